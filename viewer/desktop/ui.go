package desktop

import "fyne.io/fyne/v2"

// uiDo and uiDoAndWait run f on Fyne's goroutine. Tests replace them with
// a queue that the test's goroutine drains, as Fyne's GL driver drains
// its own: the test driver would run f on the calling goroutine.
var (
	uiDo        = fyne.Do
	uiDoAndWait = fyne.DoAndWait
)
