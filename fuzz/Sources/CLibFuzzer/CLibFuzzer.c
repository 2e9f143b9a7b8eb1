// Nothing to compile: the module only declares libFuzzer's driver (linked by -sanitize=fuzzer).
#include "CLibFuzzer.h"
