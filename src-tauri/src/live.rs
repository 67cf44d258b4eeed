//! Live scheduler events for the webview, and desktop notifications for run problems.

use chrono::Utc;
use kairos_core::events::EventMask;
use kairos_core::scheduler::Scheduler;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::notify::{self, Throttle};
use crate::protocol::EVENT_NAME;

/// Emits every scheduler event to the webview as the Tauri event [`EVENT_NAME`] while a
/// window is open, and notifies about failed, timed-out and missed runs of jobs that ask so.
pub fn start<R: Runtime>(app: &AppHandle<R>, scheduler: &Scheduler) {
    let mut all = scheduler.events().subscribe(EventMask::ALL);
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(envelope) = all.recv().await {
            // With the window released there is no one to tell.
            if handle.webview_windows().is_empty() {
                continue;
            }
            if let Err(e) = handle.emit(EVENT_NAME, &envelope) {
                tracing::warn!("forwarding an event to the window failed: {e}");
            }
        }
    });

    let mut problems = scheduler.events().subscribe(EventMask::PROBLEMS);
    let handle = app.clone();
    let scheduler = scheduler.clone();
    tauri::async_runtime::spawn(async move {
        let mut throttle = Throttle::default();
        while let Some(envelope) = problems.recv().await {
            let Some(run) = notify::problem(&envelope.event) else {
                continue;
            };
            let job = match scheduler.get_job(&run.job_id) {
                Ok(job) => job,
                Err(e) => {
                    tracing::debug!(job = %run.job_id, "no notification: {e}");
                    continue;
                }
            };
            let defaults = scheduler.settings().defaults;
            let Some(message) = notify::message(&envelope.event, &job, &defaults) else {
                continue;
            };
            if !throttle.allow(&job.id, Utc::now()) {
                tracing::debug!(job = %job.id, "notification held back: one a minute per job");
                continue;
            }
            show(&handle, &message.title, &message.body);
        }
    });
}

/// Shows a desktop notification; a desktop without a notification service only logs it.
pub fn show<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    tracing::info!(%title, %body, "notification");
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!("showing a notification failed: {e}");
    }
}

/// Tells the user once (ever) that closing the window leaves Kairos running in the tray.
pub fn hint_tray_once<R: Runtime>(app: &AppHandle<R>) {
    let Ok(dir) = app.path().app_config_dir() else {
        return;
    };
    let marker = dir.join("tray-hint-shown");
    if marker.exists() {
        return;
    }
    show(
        app,
        "Kairos is still running",
        "Your jobs keep running in the background. Open Kairos or quit it from the tray icon.",
    );
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&marker, b"")) {
        tracing::warn!("cannot remember that the tray hint was shown: {e}");
    }
}
