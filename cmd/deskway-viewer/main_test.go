package main

import (
	"bytes"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/deskway/deskway/viewer/desktop"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(o options, opt desktop.Options) bool
		err  string
	}{
		{"defaults", nil, nil, func(o options, opt desktop.Options) bool {
			return opt.Broker == "" && opt.WindowSize == fyne.NewSize(1024, 720) && opt.Scale == "" && o.logLevel == "warn"
		}, ""},
		{"flags", []string{"--broker", "deskway.example.com/", "--code", "123-456-789", "--scale", "1:1", "--quality", "balanced", "--max-fps", "20", "--size", "1280x800"}, nil,
			func(o options, opt desktop.Options) bool {
				return opt.Broker == "https://deskway.example.com" && opt.Code == "123-456-789" && opt.Scale == desktop.ScaleOne &&
					opt.Quality == desktop.QualityBalanced && opt.MaxFPS == 20 && opt.WindowSize == fyne.NewSize(1280, 800)
			}, ""},
		{"env twins", nil, map[string]string{"DESKWAY_BROKER": "https://b.example", "DESKWAY_CODE": "111-222-333", "DESKWAY_MAX_FPS": "5"},
			func(o options, opt desktop.Options) bool {
				return opt.Broker == "https://b.example" && opt.Code == "111-222-333" && opt.MaxFPS == 5
			}, ""},
		{"flag wins over env", []string{"--broker", "https://flag.example"}, map[string]string{"DESKWAY_BROKER": "https://env.example"},
			func(o options, opt desktop.Options) bool { return opt.Broker == "https://flag.example" }, ""},
		{"bad scale", []string{"--scale", "2:1"}, nil, nil, "scale"},
		{"bad fps", []string{"--max-fps", "500"}, nil, nil, "max fps"},
		{"bad size", []string{"--size", "big"}, nil, nil, "--size"},
		{"bad broker", []string{"--broker", "ftp://x"}, nil, nil, "--broker"},
		{"bad env", nil, map[string]string{"DESKWAY_MAX_FPS": "many"}, nil, "DESKWAY_MAX_FPS"},
		{"arguments", []string{"extra"}, nil, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"DESKWAY_BROKER", "DESKWAY_CODE", "DESKWAY_MAX_FPS"} {
				t.Setenv(k, tt.env[k])
				if _, ok := tt.env[k]; !ok {
					t.Setenv(k, "")
				}
			}
			var stderr bytes.Buffer
			o, err := parse(tt.args, &stderr)
			var opt desktop.Options
			if err == nil {
				opt, err = options2(o)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.want(o, opt) {
				t.Errorf("parse(%q) = %+v, %v", tt.args, opt, err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "deskway-viewer ") {
		t.Errorf("-version: exit %d, output %q %q", code, out.String(), errb.String())
	}
	if code := run([]string{"--scale", "x"}, &out, &errb); code != 2 {
		t.Errorf("a bad flag exits %d, want 2", code)
	}
}
