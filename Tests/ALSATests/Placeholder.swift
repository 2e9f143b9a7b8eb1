// ALSATests
