package api

import "time"

// Event is one thing that happened in the engine, as its event feed reports it to the
// front doors (the Docker API's GET /events, the CRI's GetContainerEvents).
type Event struct {
	Type       string // container, image, network, volume
	Action     string // create, start, die, destroy, kill, stop, pull, tag, connect...
	ID         string
	Attributes map[string]string
	Time       time.Time
}
