// CPCMShm is a header: the layout and its accessors are all static inline, so that Swift inlines
// them into the audio thread's loop. This file exists because a SwiftPM C target needs a source,
// and it compiles the header's _Static_asserts once with the C compiler as well as with the
// importer.
#include "CPCMShm.h"
