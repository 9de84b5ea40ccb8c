// kata-sentry-agent: the guest's /init. Builds the guest's world (init/guest_init.h), bridges
// the virtio-serial agent port into a socket and serves the Agent gRPC API on it until the host
// destroys the sandbox or goes away; then powers the VM off.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "agent/init/guest_init.h"
#include "agent/init/port_bridge.h"
#include "agent/sensor/background_sensor.h"
#include "agent/service/agent_server.h"
#include "guest-probes/guest_sensor.h"

namespace ks = kata_sentry::agent;

namespace {

std::string uptime_seconds() {
  std::ifstream uptime("/proc/uptime");
  std::string seconds;
  uptime >> seconds;
  return seconds;
}

[[noreturn]] void die(const std::string& what) {
  ks::console_log("fatal: " + what);
  ks::power_off();
}

}  // namespace

int main(int argc, char** argv) {
  if (::getpid() != 1) {
    std::fprintf(stderr,
                 "kata-sentry-agent: runs as PID 1 of a kata-sentry guest VM (it mounts filesystems, loads\n"
                 "kernel modules and powers the machine off); it is started by the kernel as /init.\n");
    return 2;
  }
  // Two malloc arenas, not glibc's 8 per CPU: each of the agent's threads (gRPC's pollers and
  // executors, the sensor's reader, the handlers) would otherwise get an arena of its own, whose
  // touched pages stay in the agent's RSS. Two keep the sensor's reader and its stream sender
  // from contending on one lock.
  ::mallopt(M_ARENA_MAX, 2);
  // Failing to switch is not fatal: containers then run with the launcher's chroot fallback.
  if (auto st = ks::switch_root_if_initramfs(argv); !st) ks::console_log("warning: " + st.error().describe());
  ks::GuestInitOptions init_options;
  if (auto st = ks::init_guest(init_options); !st) die(st.error().describe());

  std::string port_name = ks::kernel_cmdline_value("ks.port", "agent.0");
  auto port = ks::find_virtio_port(port_name, std::chrono::seconds(10));
  if (!port) die(port.error().describe());
  int agent_fd = -1;
  auto bridge = ks::PortBridge::start(*port, &agent_fd);
  if (!bridge) die(bridge.error().describe());
  // Guest uptime at this point is the boot cost the image build tries to keep down.
  ks::console_log("serving on " + port->string() + " at uptime " + uptime_seconds() + " s");

  // The guest sensor runs for the whole life of the agent so events from the first container
  // start are queued before the host opens StreamEvents. It loads on its own thread (seconds
  // of BPF verification under TCG) while the agent already serves; StartContainer and the
  // sensor RPCs wait for it (agent/sensor/background_sensor.h). Failing to load is not fatal:
  // the sensor RPCs then say why, and GetGuestDetails reports the LSM list as it is.
  namespace gp = kata_sentry::guest_probes;
  gp::GuestSensorOptions sensor_options;
  sensor_options.cgroup_parent = init_options.cgroup_parent;
  // ks.sensor=off (kernel command line) runs without it: the baseline for overhead benchmarks;
  // ks.sensor=sync loads it before serving (the agent-ready baseline of vm_run_bench).
  const std::string sensor_mode = ks::kernel_cmdline_value("ks.sensor", "on");
  const bool sensor_on = sensor_mode != "off";
  // ks.sensor_delay_ms=N holds the load back N ms: the vm tests use it to create containers
  // while the sensor is certainly not up yet.
  const long sensor_delay_ms = std::atol(ks::kernel_cmdline_value("ks.sensor_delay_ms", "0").c_str());
  std::unique_ptr<ks::SensorHandle> sensor;
  if (sensor_on) {
    sensor = std::make_unique<ks::SensorHandle>([sensor_options, sensor_delay_ms]() {
      if (sensor_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sensor_delay_ms));
      auto started = gp::GuestSensor::start(sensor_options);
      // libbpf parsed the kernel's BTF (megabytes) several times over on this thread's arena;
      // hand the freed pages back to the guest (free page reporting returns them to the host).
      ::malloc_trim(0);
      if (!started) ks::console_log("warning: guest sensor: " + started.error().describe());
      else if (!(*started)->lsm_enforcing())
        ks::console_log("warning: guest sensor: in-guest enforcement unavailable: " +
                        (*started)->stats().lsm_unavailable_reason);
      else ks::console_log("guest sensor ready at uptime " + uptime_seconds() + " s");
      return started;
    });
    if (sensor_mode == "sync") (void)sensor->wait(std::chrono::minutes(2));
  } else {
    ks::console_log("guest sensor disabled by ks.sensor=off");
  }

  ks::AgentServerOptions server_options;
  server_options.sensor = sensor.get();
  server_options.shared_dir = init_options.share_mount;
  server_options.cgroup_parent = init_options.cgroup_parent;
  server_options.set_hostname = true;
  server_options.pod_setup = true;
  if (auto st = ks::serve_agent(agent_fd, server_options); !st) die(st.error().describe());
  ks::console_log("agent stopped; powering off");
  ks::power_off();
}
