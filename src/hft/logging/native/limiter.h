/* Rate limits (limiter.c): Limiter, a logging method that lets through at most `per` calls a
 * window and holds the rest back, counted; LimitSites, logger.limit(): one limited logger per
 * place in the code that asks for one. */
#ifndef HFT_LIMITER_H
#define HFT_LIMITER_H

#include "compat.h"

extern PyType_Spec hft_limiter_spec;
extern PyType_Spec hft_limit_sites_spec;

#endif /* HFT_LIMITER_H */
