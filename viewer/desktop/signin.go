package desktop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto/api"
)

// signinView is the sign-in form: broker URL, user name, password, and
// a second step for the TOTP code when the account has one. The password
// lives only in its entry and in the request; it is cleared after each
// attempt that ends the flow. Owned by Fyne's goroutine.
type signinView struct {
	a        *App
	content  fyne.CanvasObject
	broker   *widget.Entry
	user     *widget.Entry
	password *widget.Entry
	totp     *widget.Entry
	totpItem *widget.FormItem
	form     *widget.Form
	submit   *widget.Button
	message  *widget.Label
	busy     bool
	needTOTP bool
}

func newSigninView(a *App) *signinView {
	v := &signinView{a: a}
	v.broker = widget.NewEntry()
	v.broker.SetPlaceHolder("https://deskway.example.com")
	v.user = widget.NewEntry()
	v.user.SetPlaceHolder("user name")
	v.password = widget.NewPasswordEntry()
	v.totp = widget.NewEntry()
	v.totp.SetPlaceHolder("6-digit code")
	v.totp.OnSubmitted = func(string) { v.doSubmit() }
	v.password.OnSubmitted = func(string) { v.doSubmit() }
	v.totpItem = widget.NewFormItem("Authenticator code", v.totp)
	v.form = widget.NewForm(
		widget.NewFormItem("Broker", v.broker),
		widget.NewFormItem("User", v.user),
		widget.NewFormItem("Password", v.password),
	)
	v.submit = widget.NewButton("Sign in", v.doSubmit)
	v.submit.Importance = widget.HighImportance
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	title := widget.NewLabelWithStyle("Sign in to your Deskway broker", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.content = container.NewVBox(title, v.form, v.submit, v.message)
	v.content = container.NewPadded(centered(v.content))
	return v
}

// reset fills the form for a new sign-in.
func (v *signinView) reset(broker, user, msg string) {
	v.broker.SetText(broker)
	v.user.SetText(user)
	v.password.SetText("")
	v.setTOTP(false)
	v.message.SetText(msg)
	v.busy = false
	v.submit.Enable()
}

func (v *signinView) focusTarget() fyne.Focusable {
	switch {
	case v.broker.Text == "":
		return v.broker
	case v.user.Text == "":
		return v.user
	case v.needTOTP:
		return v.totp
	}
	return v.password
}

func (v *signinView) setTOTP(on bool) {
	if on == v.needTOTP {
		return
	}
	v.needTOTP = on
	v.totp.SetText("")
	if on {
		v.form.AppendItem(v.totpItem)
		v.broker.Disable()
		v.user.Disable()
		v.password.Disable()
	} else {
		v.form.Items = v.form.Items[:3]
		v.form.Refresh()
		v.broker.Enable()
		v.user.Enable()
		v.password.Enable()
	}
}

// setBusy shows what is going on and blocks the form meanwhile ("" ends).
func (v *signinView) setBusy(msg string) {
	v.busy = msg != ""
	if v.busy {
		v.message.SetText(msg)
		v.submit.Disable()
	} else {
		v.message.SetText("")
		v.submit.Enable()
	}
}

// doSubmit signs in with the form's values.
func (v *signinView) doSubmit() {
	if v.busy {
		return
	}
	broker, err := ParseBrokerURL(v.broker.Text)
	if err != nil {
		v.message.SetText("The broker's address looks wrong; it is like https://deskway.example.com.")
		return
	}
	user := strings.TrimSpace(v.user.Text)
	if user == "" || v.password.Text == "" {
		v.message.SetText("Enter your user name and password.")
		return
	}
	req := api.LoginRequest{Name: user, Password: v.password.Text}
	if v.needTOTP {
		code := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == '-' {
				return -1
			}
			return r
		}, v.totp.Text)
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			v.message.SetText("The code has 6 digits; your authenticator app shows it.")
			return
		}
		req.TOTP = code
	}
	v.setBusy("Signing in…")
	c := v.a.newClient(broker, "")
	insecure := strings.HasPrefix(broker, "http://") && !isLoopbackURL(broker)
	v.a.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := c.Login(ctx, req)
		uiDo(func() { v.done(c, broker, user, resp, err, insecure) })
	})
}

// done handles the broker's answer to a sign-in.
func (v *signinView) done(c *api.Client, broker, user string, resp *api.LoginResponse, err error, insecure bool) {
	v.setBusy("")
	var ae *api.Error
	switch {
	case err == nil:
	case api.IsCode(err, api.CodeTOTPRequired) && !v.needTOTP:
		v.setTOTP(true)
		v.message.SetText("Enter the 6-digit code from your authenticator app.")
		v.a.main.Canvas().Focus(v.totp)
		return
	case api.IsCode(err, api.CodeTOTPRequired), v.needTOTP && api.IsCode(err, api.CodeUnauthorized):
		v.totp.SetText("")
		v.message.SetText("That code was not accepted. Wait for the next code and enter it.")
		return
	case api.IsCode(err, api.CodeUnauthorized):
		v.password.SetText("")
		v.message.SetText("Wrong user name or password.")
		return
	case errors.As(err, &ae) && ae.Code == api.CodeRateLimited:
		v.message.SetText(fmt.Sprintf("Too many attempts. Try again in %s.", max(ae.RetryAfter, time.Second).Round(time.Second)))
		return
	case errors.As(err, &ae):
		v.message.SetText("The broker refused: " + ae.Message)
		return
	default:
		v.message.SetText("The broker could not be reached: " + err.Error())
		return
	}
	// Signed in: remember the broker and user, keep the token, forget
	// the password.
	v.password.SetText("")
	v.setTOTP(false)
	a := v.a
	if err := a.prof.SaveToken(Token{Broker: broker, User: resp.User.Name, Token: resp.Token, Expires: resp.Expires}); err != nil {
		a.log.Warn("token not saved; sign in again next time", "err", err)
	}
	c.Token = resp.Token
	a.log.Info("signed in", "broker", broker, "user", resp.User.Name)
	a.signedIn(c, resp.User.Name)
	if insecure {
		a.hosts.setNotice("Warning: this broker is reached over plain http; sign-in and tickets are not encrypted on the way. Sessions stay end-to-end encrypted.")
	}
}

// isLoopbackURL reports whether u names this machine.
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}
