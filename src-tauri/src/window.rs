//! The admin window: created on demand, destroyed on close so a hidden app holds no webview.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::protocol;
use crate::Shell;

/// The window's label (capabilities and the window-state plugin know it by this name).
pub const LABEL: &str = "main";

/// Brings the admin window to the front, creating it (and its webview) if it is closed.
pub fn open<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(LABEL) {
        window.unminimize()?;
        window.show()?;
        return window.set_focus();
    }
    crate::trim::window_opening();
    let shell = app.state::<Shell>();
    let mut url = protocol::base_url();
    // The UI keeps the token from the first page it loads.
    url.query_pairs_mut()
        .append_pair("token", &shell.engine.token);
    let started = Instant::now();
    let since_launch = shell.launched.elapsed();
    let first = Arc::new(AtomicBool::new(true));
    WebviewWindowBuilder::new(app, LABEL, WebviewUrl::CustomProtocol(url))
        .title("Kairos")
        .inner_size(1200.0, 800.0)
        .min_inner_size(720.0, 480.0)
        .center()
        .on_page_load(move |_, payload| {
            if payload.event() == PageLoadEvent::Finished && first.swap(false, Ordering::Relaxed) {
                tracing::info!(
                    "window ready in {} ms ({} ms since launch)",
                    started.elapsed().as_millis(),
                    (since_launch + started.elapsed()).as_millis()
                );
            }
        })
        .build()?;
    Ok(())
}
