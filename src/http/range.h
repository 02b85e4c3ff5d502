/*
 * range: which Range request headers the photo and web file paths let
 * through to h2o's file handler.
 *
 * h2o 2.2 serves every range of a multi-range request, overlapping or
 * not (2,000 overlapping ranges of a 45 KB file made 92 MB of answer),
 * and wraps a number past 2^64 to a small one (bytes=0-18446744073709551616
 * answered 1 byte). RFC 7233 lets a server ignore a Range header (and
 * serve the whole file, 200) and asks it to refuse egregious ones (§6.1).
 * So only one range of bytes, well formed, with numbers that fit, goes on;
 * any other Range header is removed and the file is served whole.
 */
#ifndef PICOGRAM_RANGE_H
#define PICOGRAM_RANGE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether v (a Range header's value, len bytes, not NUL-terminated) is one
 * byte range: "bytes=FIRST-", "bytes=FIRST-LAST" with FIRST <= LAST, or
 * "bytes=-SUFFIX" with SUFFIX > 0, each number at most 18 digits (under
 * 10^18, well inside 64 bits), with optional spaces around the range. */
bool range_single_ok(const char *v, size_t len);

#endif
