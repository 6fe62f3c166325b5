package failover

// SetFileStoreStep makes f hear the steps of every FileStore write where a
// crash leaves the files in a new shape, for the crash tests; the function
// it returns puts the old hook back. Tests that set it do not run in
// parallel.
func SetFileStoreStep(f func(step string)) (restore func()) {
	old := fileStoreStep
	fileStoreStep = f
	return func() { fileStoreStep = old }
}

// TickEveryMember makes every Tick of m look at every member, none
// skipped as quiet: the Machine as it was before members were skipped,
// for a test that compares the two.
func TickEveryMember(m *Machine) { m.everyMember = true }
