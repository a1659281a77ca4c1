package codec

// lru hands out numbered slots, each with a cost, under a total budget,
// evicting the least recently used slot first. The encoder and the decoder
// each run one per dictionary and make the same calls in the same order,
// so their slot numbers stay in step without ever being sent twice.
type lru struct {
	prev, next []int32 // list of used slots, head = least recently used
	head, tail int32
	cost       []int32
	used       []bool
	free       []int32 // stack of free slots, lowest number on top
	total      int
	budget     int
}

func newLRU(slots, budget int) *lru {
	l := &lru{
		prev:   make([]int32, slots),
		next:   make([]int32, slots),
		cost:   make([]int32, slots),
		used:   make([]bool, slots),
		free:   make([]int32, slots),
		head:   -1,
		tail:   -1,
		budget: budget,
	}
	for i := range l.free {
		l.free[i] = int32(slots - 1 - i)
	}
	return l
}

func (l *lru) unlink(s int32) {
	p, n := l.prev[s], l.next[s]
	if p >= 0 {
		l.next[p] = n
	} else {
		l.head = n
	}
	if n >= 0 {
		l.prev[n] = p
	} else {
		l.tail = p
	}
}

func (l *lru) pushTail(s int32) {
	l.prev[s] = l.tail
	l.next[s] = -1
	if l.tail >= 0 {
		l.next[l.tail] = s
	} else {
		l.head = s
	}
	l.tail = s
}

// valid reports whether s names a slot in use.
func (l *lru) valid(s int) bool { return s >= 0 && s < len(l.used) && l.used[s] }

// touch marks s as just used.
func (l *lru) touch(s int32) {
	if l.tail == s {
		return
	}
	l.unlink(s)
	l.pushTail(s)
}

// alloc returns a slot for an entry of the given cost, evicting least
// recently used slots (reported to evict, which may be nil) until it fits.
// The caller guarantees 0 < cost <= budget.
func (l *lru) alloc(cost int, evict func(s int32)) int32 {
	for len(l.free) == 0 || l.total+cost > l.budget {
		s := l.head
		l.unlink(s)
		l.used[s] = false
		l.total -= int(l.cost[s])
		l.free = append(l.free, s)
		if evict != nil {
			evict(s)
		}
	}
	s := l.free[len(l.free)-1]
	l.free = l.free[:len(l.free)-1]
	l.used[s] = true
	l.cost[s] = int32(cost)
	l.total += cost
	l.pushTail(s)
	return s
}
