// libbpf's messages go to the "probes" logger (verifier detail at trace); shared by every
// loader in this library. Idempotent, thread-safe.
#pragma once

namespace kata_sentry::probes {
void install_libbpf_logging();
}
