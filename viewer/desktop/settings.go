package desktop

import (
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// Choices of the settings dialog, in the order shown.
var (
	qualityChoices = []struct {
		label string
		q     Quality
	}{
		{"Let the host decide", ""},
		{"Lossless (every pixel exact)", QualityLossless},
		{"Balanced (photos lossy, text exact)", QualityBalanced},
		{"Low bandwidth", QualityLowBandwidth},
	}
	fpsChoices   = []int{0, 5, 10, 15, 24, 30, 60}
	scaleChoices = []struct {
		label string
		m     ScaleMode
	}{
		{"Fit to the window", ScaleFit},
		{"1:1 (scroll when larger)", ScaleOne},
	}
)

func fpsLabel(n int) string {
	if n == 0 {
		return "The host's default"
	}
	return strconv.Itoa(n) + " per second"
}

// settingsForm is the settings dialog's form; apply validates and saves.
type settingsForm struct {
	broker  *widget.Entry
	quality *widget.Select
	fps     *widget.Select
	scale   *widget.Select
	items   []*widget.FormItem
}

func newSettingsForm(s Settings) *settingsForm {
	f := &settingsForm{broker: widget.NewEntry()}
	f.broker.SetText(s.Broker)
	f.broker.SetPlaceHolder("https://deskway.example.com")
	var ql, fl, sl []string
	for _, c := range qualityChoices {
		ql = append(ql, c.label)
	}
	for _, n := range fpsChoices {
		fl = append(fl, fpsLabel(n))
	}
	for _, c := range scaleChoices {
		sl = append(sl, c.label)
	}
	f.quality = widget.NewSelect(ql, nil)
	f.fps = widget.NewSelect(fl, nil)
	f.scale = widget.NewSelect(sl, nil)
	f.quality.SetSelectedIndex(0)
	for i, c := range qualityChoices {
		if c.q == s.Quality {
			f.quality.SetSelectedIndex(i)
		}
	}
	f.fps.SetSelectedIndex(0)
	for i, n := range fpsChoices {
		if n == s.MaxFPS {
			f.fps.SetSelectedIndex(i)
		}
	}
	if s.MaxFPS != 0 && f.fps.SelectedIndex() == 0 { // a value from the command line
		f.fps.Options = append(f.fps.Options, fpsLabel(s.MaxFPS))
		f.fps.SetSelectedIndex(len(f.fps.Options) - 1)
	}
	f.scale.SetSelectedIndex(0)
	if s.Scale == ScaleOne {
		f.scale.SetSelectedIndex(1)
	}
	f.items = []*widget.FormItem{
		widget.NewFormItem("Broker", f.broker),
		widget.NewFormItem("Quality", f.quality),
		widget.NewFormItem("Most frames", f.fps),
		widget.NewFormItem("Scaling", f.scale),
	}
	return f
}

// settings returns the form's values on top of s.
func (f *settingsForm) settings(s Settings) (Settings, error) {
	if f.broker.Text == "" {
		s.Broker = ""
	} else {
		b, err := ParseBrokerURL(f.broker.Text)
		if err != nil {
			return s, err
		}
		s.Broker = b
	}
	if i := f.quality.SelectedIndex(); i >= 0 {
		s.Quality = qualityChoices[i].q
	}
	if i := f.fps.SelectedIndex(); i >= 0 && i < len(fpsChoices) {
		s.MaxFPS = fpsChoices[i]
	}
	if i := f.scale.SelectedIndex(); i >= 0 {
		s.Scale = scaleChoices[i].m
	}
	return s, s.Validate()
}

func newSettingsDialog(a *App, parent fyne.Window) dialog.Dialog {
	f := newSettingsForm(a.settings)
	d := dialog.NewForm("Settings", "Save", "Cancel", f.items, func(ok bool) {
		if !ok {
			return
		}
		s, err := f.settings(a.settings)
		if err == nil {
			err = a.applySettings(s)
		}
		if err != nil {
			dialog.ShowError(err, parent)
		}
	}, parent)
	d.Resize(fyne.NewSize(520, 320))
	return d
}
