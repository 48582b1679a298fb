package simulate

import "math"

// profile is the shape of an entry service's day: the load it receives
// relative to its busiest hour, by hour of day, on weekdays and weekends.
type profile uint8

const (
	profileConsumer profile = iota // daytime with a lunch and an evening peak, busier weekends
	profileEvening                 // like consumer, later, most at night
	profileBusiness                // office hours on weekdays, little at weekends
)

// bump is a Gaussian bump of height h centred on hour c with width w,
// wrapped around midnight.
func bump(hour, c, w, h float64) float64 {
	d := math.Abs(hour - c)
	d = min(d, 24-d)
	return h * math.Exp(-d*d/(2*w*w))
}

// load returns the relative load of p at hour (fractional hour of day,
// 0–24) on a weekday or a weekend day; the weekday peak is about 1.
func (p profile) load(hour float64, weekend bool) float64 {
	switch p {
	case profileBusiness:
		l := 0.04 + bump(hour, 10.5, 1.8, 0.9) + bump(hour, 15, 2, 0.85)
		if weekend {
			l = 0.04 + 0.15*(l-0.04)
		}
		return l
	case profileEvening:
		l := 0.08 + bump(hour, 13, 2, 0.45) + bump(hour, 21, 2.2, 0.95)
		if weekend {
			l *= 1.25
		}
		return l
	default:
		l := 0.1 + bump(hour, 12.5, 2.2, 0.8) + bump(hour, 19.5, 2.5, 0.75)
		if weekend {
			l = 0.1 + 1.15*bump(hour, 14, 3.5, 0.85)
		}
		return l
	}
}

// meanLoad returns p's load averaged over a week.
func (p profile) meanLoad() float64 {
	s := 0.0
	const steps = 96
	for d := range 7 {
		for i := range steps {
			s += p.load(24*float64(i)/steps, d >= 5)
		}
	}
	return s / (7 * steps)
}
