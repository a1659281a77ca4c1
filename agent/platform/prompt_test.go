package platform

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
)

func TestTermPrompterConsent(t *testing.T) {
	all := allPerms
	for _, tc := range []struct {
		input string
		want  proto.Perms
	}{
		{"y\ny\n", all},
		{"yes\nn\n", proto.PermView},
		{"n\n", 0},
		{"\n", 0},
	} {
		var out strings.Builder
		p := &TermPrompter{In: strings.NewReader(tc.input), Out: &out}
		got, err := p.Consent(context.Background(), "Jane", all, "123 456")
		if err != nil || got != tc.want {
			t.Errorf("Consent with input %q = %v, %v; want %v", tc.input, got, err, tc.want)
		}
		if !strings.Contains(out.String(), "123 456") {
			t.Errorf("prompt %q does not show the SAS", out.String())
		}
	}
	p := &TermPrompter{In: strings.NewReader(""), Out: io.Discard}
	if _, err := p.Consent(context.Background(), "Jane", proto.PermView, ""); err == nil {
		t.Errorf("Consent at end of input succeeded")
	}
}

func TestTermPrompterIndicator(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	var out strings.Builder
	p := &TermPrompter{In: r, Out: &out}
	ind, err := p.ShowIndicator("Jane is viewing")
	if err != nil {
		t.Fatal(err)
	}
	defer ind.Close()
	go io.WriteString(w, "end\n")
	select {
	case <-ind.Ended():
	case <-time.After(2 * time.Second):
		t.Fatalf("typing end did not end the session")
	}
}

// A line "view" takes back control while control is granted, and only
// then; the indicator says how once control is granted.
func TestTermPrompterTakeBackControl(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	var out strings.Builder
	p := &TermPrompter{In: r, Out: &out}
	i, err := p.ShowIndicator("Jane can see and control this screen")
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close()
	ind, ok := i.(ControlIndicator)
	if !ok {
		t.Fatal("the terminal indicator cannot take back control")
	}
	ind.SetControl(true)
	if !strings.Contains(out.String(), "type view") {
		t.Errorf("the indicator does not say how to take back control:\n%s", out.String())
	}
	go io.WriteString(w, "view\n")
	select {
	case <-ind.Withdrawn():
	case <-time.After(2 * time.Second):
		t.Fatal("typing view did not take back control")
	}
	ind.SetControl(false)
	go io.WriteString(w, "view\nend\n")
	select {
	case <-ind.Ended():
	case <-time.After(2 * time.Second):
		t.Fatal("typing end did not end the session")
	}
	select {
	case <-ind.Withdrawn():
		t.Error("typing view without control took back control")
	default:
	}
}

func TestAutoPrompter(t *testing.T) {
	p := AutoPrompter{Grant: proto.PermView}
	got, err := p.Consent(context.Background(), "Jane", proto.PermView|proto.PermControl, "")
	if err != nil || got != proto.PermView {
		t.Errorf("AutoPrompter{view}.Consent(view+control) = %v, %v; want view", got, err)
	}
}
