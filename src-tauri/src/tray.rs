//! The tray icon and its menu: open, status, pause/resume all, start at login, quit.

use std::time::Duration;

use chrono::{Local, Utc};
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;

use crate::status::{pause_label, status_line};
use crate::{window, Shell};

/// How often the status line is refreshed.
const REFRESH: Duration = Duration::from_secs(3);

const OPEN: &str = "open";
const STATUS: &str = "status";
const PAUSE: &str = "pause";
const AUTOSTART: &str = "autostart";
const QUIT: &str = "quit";

/// The menu items whose text or check mark changes.
pub struct TrayItems<R: Runtime> {
    status: MenuItem<R>,
    pause: MenuItem<R>,
    autostart: CheckMenuItem<R>,
}

impl<R: Runtime> TrayItems<R> {
    /// Shows `text` in the status line.
    pub fn set_status(&self, text: &str) {
        if let Err(e) = self.status.set_text(text) {
            tracing::warn!("updating the tray status failed: {e}");
        }
    }
}

/// Puts the icon in the tray and keeps its status line fresh.
pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let shell = app.state::<Shell>();
    let status = shell.engine.scheduler.status();
    let autostart_on = app.autolaunch().is_enabled().unwrap_or(false);
    let items = TrayItems {
        status: MenuItem::with_id(app, STATUS, current_line(app), false, None::<&str>)?,
        pause: MenuItem::with_id(app, PAUSE, pause_label(status.paused), true, None::<&str>)?,
        autostart: CheckMenuItem::with_id(
            app,
            AUTOSTART,
            "Start at login",
            true,
            autostart_on,
            None::<&str>,
        )?,
    };
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, OPEN, "Open Kairos", true, None::<&str>)?,
            &items.status,
            &PredefinedMenuItem::separator(app)?,
            &items.pause,
            &items.autostart,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?,
        ],
    )?;
    TrayIconBuilder::with_id("kairos")
        .icon(tauri::include_image!("../icons/tray.png"))
        .tooltip("Kairos")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu)
        .build(app)?;
    app.manage(items);

    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut ticks = tokio::time::interval(REFRESH);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shown = (String::new(), false);
        loop {
            ticks.tick().await;
            if app.state::<Shell>().is_quitting() {
                break;
            }
            let paused = app.state::<Shell>().engine.scheduler.status().paused;
            let now = (current_line(&app), paused);
            if now != shown {
                let items = app.state::<TrayItems<R>>();
                items.set_status(&now.0);
                if now.1 != shown.1 {
                    let _ = items.pause.set_text(pause_label(now.1));
                }
                shown = now;
            }
        }
    });
    Ok(())
}

fn current_line<R: Runtime>(app: &AppHandle<R>) -> String {
    let status = app.state::<Shell>().engine.scheduler.status();
    status_line(&status, Utc::now(), &Local)
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let items = app.state::<TrayItems<R>>();
    match event.id().as_ref() {
        OPEN => {
            if let Err(e) = window::open(app) {
                tracing::error!("opening the window failed: {e}");
            }
        }
        PAUSE => {
            let scheduler = &app.state::<Shell>().engine.scheduler;
            let paused = scheduler.status().paused;
            if paused {
                scheduler.resume();
            } else {
                scheduler.pause();
            }
            let _ = items.pause.set_text(pause_label(!paused));
            items.set_status(&current_line(app));
        }
        AUTOSTART => {
            let launcher = app.autolaunch();
            let wanted = !launcher.is_enabled().unwrap_or(false);
            let done = if wanted {
                launcher.enable()
            } else {
                launcher.disable()
            };
            if let Err(e) = done {
                tracing::error!("changing start at login failed: {e}");
            }
            let _ = items
                .autostart
                .set_checked(launcher.is_enabled().unwrap_or(false));
        }
        QUIT => crate::quit(app),
        _ => {}
    }
}
