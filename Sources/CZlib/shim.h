// zlib (Debian: zlib1g-dev), for reading gzip-compressed traces.
#include <zlib.h>
