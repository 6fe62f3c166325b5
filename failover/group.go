package failover

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddGroup creates a Failover Group with Failover Protection on and returns
// its ID. The name is trimmed; it must be non-empty, at most
// MaxGroupNameLength characters, printable, and unique among the groups
// (compared without regard to case, as a person reading the list would).
func (m *Machine) AddGroup(name string) (GroupID, error) {
	name, err := m.checkGroupName(name, 0)
	if err != nil {
		return 0, err
	}
	if len(m.groups) >= MaxGroups {
		return 0, fmt.Errorf("%w: a center holds at most %d", ErrTooManyGroups, MaxGroups)
	}
	g := &group{id: m.nextGroupID, name: name, protection: true}
	m.nextGroupID++
	m.groups = append(m.groups, g)
	m.markGroup(g.id)
	m.stateGen++
	m.shownChanged(g)
	return g.id, nil
}

// RenameGroup changes a group's name (the "Edit" operation), with the same
// rules as AddGroup. The default group may be renamed too.
func (m *Machine) RenameGroup(id GroupID, name string) error {
	g, err := m.group(id)
	if err != nil {
		return err
	}
	name, err = m.checkGroupName(name, id)
	if err != nil {
		return err
	}
	g.name = name
	m.markGroup(id)
	m.stateGen++
	m.shownChanged(g)
	return nil
}

// DeleteGroup deletes a group and releases its servers, which may then join
// another group. It needs an Approval from [VerifyFirstAdmin]. The default
// group cannot be deleted. Deleting a group interrupts its takeovers at once:
// it returns them, and the Machine orders their releases.
func (m *Machine) DeleteGroup(id GroupID, a Approval) ([]Takeover, error) {
	g, err := m.group(id)
	if err != nil {
		return nil, err
	}
	if id == DefaultGroupID {
		return nil, fmt.Errorf("%w: %q", ErrDefaultGroup, g.name)
	}
	if err := m.checkApproval(a, OpDeleteGroup, fmt.Sprintf("deleting group %q", g.name)); err != nil {
		return nil, err
	}
	m.spend(a)
	// Protection off first, so that no interrupted server is told to
	// resume: it leaves the center's care.
	g.protection = false
	var interrupted []Takeover
	for _, mem := range g.members {
		if mem.role == RoleRecording && mem.tk != nil {
			interrupted = append(interrupted, m.interrupt(mem, "group deleted"))
		}
	}
	for _, mem := range g.members {
		m.forget(mem)
	}
	for i, x := range m.groups {
		if x == g {
			m.groups = append(m.groups[:i:i], m.groups[i+1:]...)
			break
		}
	}
	m.markGroup(id)
	m.touch(g)
	m.settle()
	return interrupted, nil
}

// SetProtection switches a group's Failover Protection on or off. With it off,
// every server of the group shows "Disabled" and no takeover starts; switching
// it off interrupts the group's takeovers, which it returns.
func (m *Machine) SetProtection(id GroupID, on bool) ([]Takeover, error) {
	g, err := m.group(id)
	if err != nil {
		return nil, err
	}
	g.protection = on
	m.markGroup(id)
	var interrupted []Takeover
	if !on {
		for _, mem := range g.members {
			if mem.role == RoleRecording && mem.tk != nil {
				interrupted = append(interrupted, m.interrupt(mem, "failover protection switched off"))
			}
		}
	}
	m.touch(g)
	m.settle()
	return interrupted, nil
}

// checkGroupName returns the trimmed name, or an error if it is unusable or
// taken by a group other than self.
func (m *Machine) checkGroupName(name string, self GroupID) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidGroupName)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidGroupName)
	case utf8.RuneCountInString(name) > MaxGroupNameLength:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidGroupName, MaxGroupNameLength)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("%w: %q has a control character", ErrInvalidGroupName, name)
		}
	}
	for _, g := range m.groups {
		if g.id != self && strings.EqualFold(g.name, name) {
			return "", fmt.Errorf("%w: %q", ErrDuplicateGroupName, name)
		}
	}
	return name, nil
}

func trimmed(s string) string { return strings.TrimSpace(s) }
