#include "tests/unit/policy/helpers.h"
