package codec_test

import (
	"fmt"
	"image"

	"github.com/deskway/deskway/codec"
)

// An agent encodes each captured frame; the viewer decodes the updates in
// order and repaints the rectangles they changed.
func Example() {
	screen := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for i := range screen.Pix {
		screen.Pix[i] = 0xee
	}
	enc := codec.NewEncoder(codec.EncoderOptions{Mode: codec.Lossless})
	dec := codec.NewDecoder(codec.DecoderOptions{MaxWidth: 3840, MaxHeight: 2160})

	for frame := range 3 {
		if frame == 2 {
			screen.Pix[screen.PixOffset(100, 50)] = 0 // one pixel changes
		}
		update, err := enc.Encode(nil, codec.FrameFromRGBA(screen))
		if err != nil {
			panic(err)
		}
		rects, err := dec.Decode(update)
		if err != nil {
			panic(err)
		}
		fmt.Printf("frame %d: %d bytes, rects %v\n", frame, len(update), rects)
	}
	fmt.Println(dec.Framebuffer().Pix[dec.Framebuffer().PixOffset(100, 50)])
	// Output:
	// frame 0: 39 bytes, rects [{0 0 320 200}]
	// frame 1: 1 bytes, rects []
	// frame 2: 24 bytes, rects [{96 48 16 16}]
	// 0
}
