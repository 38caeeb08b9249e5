# shellcheck shell=bash
# Helpers shared by the scripts in this folder; sourced, never run.
# Sourcing it moves to the repository root, so scripts work from any folder.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

SDK_DEFAULT=/usr/lib/google-cloud-sdk

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

require_go() {
	command -v go >/dev/null 2>&1 ||
		die "go is required (the version in go.mod, from https://go.dev/dl or the Go module proxy's toolchains)"
}

# sdk_root prints the gcloud SDK root: the one gcloud runs from, else the
# Debian package's.
sdk_root() {
	local gcloud root
	if gcloud="$(command -v gcloud 2>/dev/null)"; then
		root="$(dirname "$(dirname "$(readlink -f "$gcloud")")")"
		if [[ -d $root/platform ]]; then
			echo "$root"
			return
		fi
	fi
	echo "$SDK_DEFAULT"
}

# require_emulator_tools checks what the Firestore and Pub/Sub emulators need,
# unless both are given by the environment (and so not started here).
require_emulator_tools() {
	if [[ -n ${FIRESTORE_EMULATOR_HOST:-} && -n ${PUBSUB_EMULATOR_HOST:-} ]]; then
		return
	fi
	local root
	root="$(sdk_root)"
	if [[ ! -f $root/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar ]] ||
		! compgen -G "$root/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar" >/dev/null; then
		die "gcloud SDK with the Firestore and Pub/Sub emulators is required (looked in $root: packages google-cloud-cli-firestore-emulator and google-cloud-cli-pubsub-emulator); it cannot be installed from this machine's registries"
	fi
	command -v java >/dev/null 2>&1 ||
		die "java is required by the Firestore and Pub/Sub emulators: apt-get install default-jre-headless"
}

# build_tool BIN MODULE PACKAGE WHAT builds BIN from the tool module in
# MODULE when it is missing or older than that module's pins.
build_tool() {
	local bin=$1 mod=$2 pkg=$3 what=$4
	if [[ -x $bin && $bin -nt $mod/go.mod && $bin -nt $mod/go.sum ]]; then
		return
	fi
	echo "building $what into $bin" >&2
	(cd "$mod" && go build -o "$ROOT/$bin" "$pkg") ||
		die "could not build $what from $mod"
}

# build_cloud_tasks_emulator builds .bin/cloud-tasks-emulator.
build_cloud_tasks_emulator() {
	build_tool .bin/cloud-tasks-emulator emulators/cloudtasks github.com/aertje/cloud-tasks-emulator "the Cloud Tasks emulator"
}

# build_storage_emulator builds .bin/fake-gcs-server, the Cloud Storage
# emulator.
build_storage_emulator() {
	build_tool .bin/fake-gcs-server emulators/gcs github.com/fsouza/fake-gcs-server "the Cloud Storage emulator"
}

# build_devstack builds .bin/devstack (incremental: quick when up to date).
build_devstack() {
	go build -o .bin/devstack ./emulators/devstack ||
		die "could not build emulators/devstack"
}

# AXE_VERSION is the axe-core the browser tests inject to check each page's
# accessibility (MPL-2.0, its LICENSE beside it; fetched from the npm
# registry and checked against AXE_SHA256, never kept in git).
AXE_VERSION=4.11.0
AXE_SHA256=39bed7d72308f6d620789c169d699bfd7e8da80f65b545821a6b2215c3e83107
AXE_DIR=.bin/axe-core-$AXE_VERSION

# require_browser_tools installs what the Console's browser tests need when
# it is missing: Debian's chromium (apt) and axe-core (the npm registry's
# tarball, with curl: no node or npm needed). It fails loudly when they
# cannot be installed, unless ESE_BROWSER_TESTS=skip says to run without
# them (the tests then skip, saying why).
require_browser_tools() {
	if [[ ${ESE_BROWSER_TESTS:-} == skip ]]; then
		echo "   ESE_BROWSER_TESTS=skip: the browser tests are skipped" >&2
		return
	fi
	if ! command -v chromium >/dev/null 2>&1; then
		echo "installing chromium (apt) for the browser tests" >&2
		local sudo=()
		((EUID == 0)) || sudo=(sudo)
		{ "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium; } >&2 ||
			die "could not install chromium with apt-get (ESE_BROWSER_TESTS=skip runs without the browser tests)"
	fi
	if [[ ! -f $AXE_DIR/axe.min.js ]]; then
		echo "installing axe-core $AXE_VERSION (npm registry) into $AXE_DIR" >&2
		local tgz
		tgz="$(mktemp)"
		curl -fsSL "https://registry.npmjs.org/axe-core/-/axe-core-$AXE_VERSION.tgz" -o "$tgz" ||
			die "could not download axe-core from the npm registry (ESE_BROWSER_TESTS=skip runs without the browser tests)"
		echo "$AXE_SHA256  $tgz" | sha256sum -c --quiet - >&2 ||
			die "axe-core $AXE_VERSION from the npm registry does not match AXE_SHA256"
		mkdir -p "$AXE_DIR"
		tar -xzf "$tgz" -C "$AXE_DIR" --strip-components=1 package/axe.min.js package/LICENSE ||
			die "could not unpack axe-core"
		rm -f "$tgz"
	fi
	export ESE_BROWSER_TESTS=require
	ESE_AXE_JS="$ROOT/$AXE_DIR/axe.min.js"
	export ESE_AXE_JS
}
