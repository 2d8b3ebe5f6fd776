/* SPDX-License-Identifier: MIT */
/* Comparisons lcow/tap.h does not have (yet). */
#ifndef GCS_TESTS_TAP_EXTRA_H
#define GCS_TESTS_TAP_EXTRA_H

#include "lcow/tap.h"

#ifndef EXPECT_GT
#define EXPECT_GT(a, b) TAP_CMP_(a, >, b, 0)
#endif
#ifndef EXPECT_LT
#define EXPECT_LT(a, b) TAP_CMP_(a, <, b, 0)
#endif
#ifndef EXPECT_LE
#define EXPECT_LE(a, b) TAP_CMP_(a, <=, b, 0)
#endif

#endif
