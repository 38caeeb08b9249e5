// Command function serves one function the way Cloud Functions does: the
// root package (every function registered), FUNCTION_TARGET naming the
// one to serve at every path, on PORT. Tests run it with only the
// environment Terraform gives that function, to prove it starts and
// answers as deployed.
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/eventstreamengine/ese"
)

func main() {
	if os.Getenv("FUNCTION_TARGET") == "" {
		log.Fatal("function: set FUNCTION_TARGET to the function to serve")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("funcframework.Start: %v", err)
	}
}
