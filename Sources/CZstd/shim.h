// libzstd (Debian: libzstd-dev), for reading zstd-compressed traces.
#include <zstd.h>
