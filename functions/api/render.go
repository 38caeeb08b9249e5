package api

import (
	"net/http"
	"reflect"

	"github.com/eventstreamengine/ese/shared/render"
)

var typeOfString = reflect.TypeOf("")

func respond(w http.ResponseWriter, status int, v any) { render.JSON(w, status, v) }

func fail(w http.ResponseWriter, r *http.Request, err error) { render.Error(w, r, err) }
