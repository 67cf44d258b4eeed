//! The system-monitor action: one sample of CPU, memory, swap, disk, network and load.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use sysinfo::{Disks, Networks, System};

use super::{ActionContext, ActionOutput};
use crate::metrics::MetricSample;

/// A sysinfo sampler shared between monitor runs, so CPU use is measured between samples.
///
/// CPU use is the average since the previous sample taken through the same monitor (or any
/// clone of it); the very first sample has nothing to compare with and may report 0 %.
#[derive(Clone, Default)]
pub struct SystemMonitor {
    /// Created on the first sample (sysinfo's constructors can fail, `Default` cannot).
    state: Arc<Mutex<Option<Sampler>>>,
}

/// The sysinfo handles, kept between samples.
struct Sampler {
    system: System,
    disks: Disks,
    networks: Networks,
}

impl Sampler {
    fn new() -> Result<Self, sysinfo::Error> {
        Ok(Sampler {
            system: System::new()?,
            disks: Disks::new()?,
            networks: Networks::new()?,
        })
    }

    /// Refreshes everything and reads one sample.
    fn sample(&mut self) -> MetricSample {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks.refresh(true);
        self.networks.refresh(true);

        let cpu = f64::from(self.system.global_cpu_usage());
        let cpu_percent = if cpu.is_finite() {
            cpu.clamp(0.0, 100.0)
        } else {
            0.0
        };

        // The same device mounted at several places (bind mounts) is counted once.
        let mut seen = HashSet::new();
        let (mut disk_used, mut disk_total) = (0u64, 0u64);
        for disk in self.disks.iter() {
            if !seen.insert((disk.name().to_os_string(), disk.total_space())) {
                continue;
            }
            let total = disk.total_space();
            disk_total = disk_total.saturating_add(total);
            disk_used = disk_used.saturating_add(total.saturating_sub(disk.available_space()));
        }

        let (mut net_rx_bytes, mut net_tx_bytes) = (0u64, 0u64);
        for data in self.networks.values() {
            net_rx_bytes = net_rx_bytes.saturating_add(data.total_received());
            net_tx_bytes = net_tx_bytes.saturating_add(data.total_transmitted());
        }

        // Not available on every platform (e.g. Windows): zeros then.
        let load = System::load_average().unwrap_or(sysinfo::LoadAvg {
            one: 0.0,
            five: 0.0,
            fifteen: 0.0,
        });

        let memory_total = self.system.total_memory();
        let swap_total = self.system.total_swap();
        MetricSample {
            at: Utc::now(),
            cpu_percent,
            memory_used: self.system.used_memory().min(memory_total),
            memory_total,
            swap_used: self.system.used_swap().min(swap_total),
            swap_total,
            disk_used,
            disk_total,
            net_rx_bytes,
            net_tx_bytes,
            load_1: load.one,
            load_5: load.five,
            load_15: load.fifteen,
        }
    }
}

impl SystemMonitor {
    /// Takes one sample, blocking the calling thread while sysinfo reads the system.
    fn sample_blocking(&self) -> Result<MetricSample, String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.is_none() {
            let sampler =
                Sampler::new().map_err(|e| format!("cannot read system information: {e}"))?;
            *state = Some(sampler);
        }
        let sampler = state.as_mut().expect("the sampler was just created");
        Ok(sampler.sample())
    }
}

/// Takes one sample.
pub(super) async fn run(ctx: &ActionContext) -> ActionOutput {
    let monitor = ctx.monitor.clone();
    let sampling = tokio::task::spawn_blocking(move || monitor.sample_blocking());
    let result = tokio::select! {
        joined = sampling => joined,
        _ = ctx.cancel.cancelled() => return ActionOutput::failed("cancelled"),
    };
    match result {
        Ok(Ok(sample)) => ActionOutput {
            success: true,
            stdout: summary(&sample),
            sample: Some(sample),
            ..Default::default()
        },
        Ok(Err(error)) => ActionOutput::failed(error),
        Err(e) => ActionOutput::failed(format!("sampling stopped: {e}")),
    }
}

/// A one-line human summary, e.g. `cpu 12.3% · mem 3.1/15.6 GiB · disk 40%`.
fn summary(s: &MetricSample) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    let disk = if s.disk_total == 0 {
        "disk n/a".to_string()
    } else {
        format!(
            "disk {:.0}%",
            s.disk_used as f64 * 100.0 / s.disk_total as f64
        )
    };
    format!(
        "cpu {:.1}% · mem {:.1}/{:.1} GiB · {disk} · load {:.2}",
        s.cpu_percent,
        s.memory_used as f64 / GIB,
        s.memory_total as f64 / GIB,
        s.load_1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sample: &MetricSample) {
        assert!(sample.memory_total > 0, "{sample:?}");
        assert!(sample.memory_used <= sample.memory_total, "{sample:?}");
        assert!(sample.swap_used <= sample.swap_total, "{sample:?}");
        assert!(sample.disk_used <= sample.disk_total, "{sample:?}");
        assert!((0.0..=100.0).contains(&sample.cpu_percent), "{sample:?}");
        assert!(sample.load_1 >= 0.0, "{sample:?}");
    }

    #[tokio::test]
    async fn a_sample_is_sane() {
        let out = run(&ActionContext::default()).await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.error, None);
        let sample = out.sample.expect("a monitor run carries a sample");
        check(&sample);
        assert!(out.stdout.starts_with("cpu "), "{}", out.stdout);
        assert!(out.stdout.contains(" GiB"), "{}", out.stdout);
        assert!(!out.stdout.contains('\n'));
    }

    #[tokio::test]
    async fn two_samples_in_a_row_both_succeed() {
        let ctx = ActionContext::default();
        let first = run(&ctx).await;
        let second = run(&ctx).await;
        assert!(first.success && second.success, "{first:?} {second:?}");
        check(first.sample.as_ref().unwrap());
        let second = second.sample.unwrap();
        check(&second);
        assert!(second.at >= first.sample.unwrap().at);
    }

    #[test]
    fn the_summary_reads_well() {
        let sample = MetricSample {
            at: Utc::now(),
            cpu_percent: 12.34,
            memory_used: 3 << 30,
            memory_total: 16 << 30,
            swap_used: 0,
            swap_total: 0,
            disk_used: 40,
            disk_total: 100,
            net_rx_bytes: 0,
            net_tx_bytes: 0,
            load_1: 0.5,
            load_5: 0.0,
            load_15: 0.0,
        };
        assert_eq!(
            summary(&sample),
            "cpu 12.3% · mem 3.0/16.0 GiB · disk 40% · load 0.50"
        );
        let no_disks = MetricSample {
            disk_total: 0,
            disk_used: 0,
            ..sample
        };
        assert!(summary(&no_disks).contains("disk n/a"));
    }
}
