//go:build js

package viewer

// In the browser the page's glue must give Config.Dial (see native.go).
var defaultDial DialFunc
