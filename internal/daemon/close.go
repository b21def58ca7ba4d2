package daemon

// closeHealth stops the health node (memberlist's noise about its closed
// sockets is then logged at debug: healthmesh's log writer).
func (d *Daemon) closeHealth() { d.health.Close() }
