// The fuzz target's entry: libFuzzer runs `fuzzShm` on every input; the null devices and slot
// tables are built on first use and shared by all inputs.
import FuzzSupport

runFuzzer(fuzzShm, seeds: shmSeeds)
