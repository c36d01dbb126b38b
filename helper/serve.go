package main

import (
	"context"
	"errors"
	"log"

	"github.com/wgtray/wgtray/helper/engine"
)

// serve will run the D-Bus service; it is being built.
func serve(ctx context.Context, o options, sys *engine.Linux, e *engine.Engine, logger *log.Logger) error {
	return errors.New("the D-Bus service is not available yet; use `up`")
}
