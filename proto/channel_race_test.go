//go:build race

package proto

// raceEnabled: the race detector slows the crypto-heavy loops ten times;
// they run reduced (see ReducedForTest).
const raceEnabled = true
