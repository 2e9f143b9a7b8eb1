// The fuzz target's entry: libFuzzer runs `fuzzSession` on every input; the server and its
// engine are built on first use and shared by all inputs.
import FuzzSupport

runFuzzer(fuzzSession, seeds: sessionSeeds)
