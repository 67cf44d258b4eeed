//! Kairos desktop: a Tauri shell that hosts the engine in-process, shows the web admin
//! through the `kairos://` scheme (no TCP port), and keeps running in the tray.
//!
//! Flags: `--hidden` starts in the tray without opening the window (used at login).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod database;
mod engine;
mod live;
mod notify;
mod protocol;
mod status;
mod tray;
mod trim;
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
mod unmap;
mod window;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tauri::{AppHandle, Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};
use tracing_subscriber::EnvFilter;

use crate::engine::Engine;

/// How long running jobs may take to finish when Kairos quits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long a restart asked for by the page waits, so that its answer reaches the page.
const RESTART_DELAY: Duration = Duration::from_millis(300);

/// The flag autostart launches with: start in the tray only.
const HIDDEN_FLAG: &str = "--hidden";

/// What the whole app shares.
pub struct Shell {
    /// The hosted engine.
    engine: Engine,
    /// The desktop CSP from tauri.conf.json, put on every page the scheme serves.
    csp: Option<String>,
    /// When the process started.
    launched: Instant,
    /// Set once "Quit" was chosen.
    quitting: AtomicBool,
    /// Set when the quit is a restart (onto another database).
    restarting: AtomicBool,
}

impl Shell {
    /// Whether the app is shutting down.
    fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}

fn main() -> anyhow::Result<()> {
    let launched = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("KAIROS_LOG").unwrap_or_else(|_| {
            EnvFilter::new("warn,kairos_desktop=info,kairos_core=info,kairos_server=info")
        }))
        .with_writer(std::io::stderr)
        .init();
    let hidden = std::env::args().any(|a| a == HIDDEN_FLAG);

    let app = tauri::Builder::default()
        // First: a second launch hands over to the first here, before anything opens the db.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("another launch asked for the window");
            if let Err(e) = window::open(app) {
                tracing::error!("opening the window failed: {e}");
            }
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .arg(HIDDEN_FLAG)
                .build(),
        )
        .register_asynchronous_uri_scheme_protocol(protocol::SCHEME, |ctx, request, responder| {
            let app = ctx.app_handle().clone();
            tauri::async_runtime::spawn(async move {
                let Some((router, csp)) = app
                    .try_state::<Shell>()
                    .map(|s| (s.engine.router.clone(), s.csp.clone()))
                else {
                    responder.respond(
                        http::Response::builder()
                            .status(http::StatusCode::SERVICE_UNAVAILABLE)
                            .body(b"Kairos is starting".to_vec())
                            .expect("a valid response"),
                    );
                    return;
                };
                responder.respond(protocol::handle(router, request, csp.as_deref()).await);
            });
        })
        .on_window_event(on_window_event)
        .setup(move |app| {
            let places = database::Places::new(dirs::config_dir(), dirs::data_dir());
            let chosen = database::choose(std::env::var_os("KAIROS_DB"), &places);
            let (chosen, store) = database::open(chosen, &places)?;
            let tokens = engine::token_dir(&chosen.location, dirs::data_dir());
            let handle = app.handle().clone();
            let host = database::DesktopDatabase::new(
                places,
                chosen,
                Box::new(move || {
                    // Answer the request first: restarting closes the window that sent it.
                    let handle = handle.clone();
                    tauri::async_runtime::spawn(async move {
                        tokio::time::sleep(RESTART_DELAY).await;
                        restart(&handle);
                    });
                }),
            );
            let engine = tauri::async_runtime::block_on(async {
                Engine::start(store, &tokens, Arc::new(host))
            })?;
            tracing::info!(
                "engine started {} ms after launch",
                launched.elapsed().as_millis()
            );
            live::start(app.handle(), &engine.scheduler);
            let csp = app
                .config()
                .app
                .security
                .csp
                .as_ref()
                .map(|c| c.to_string());
            app.manage(Shell {
                engine,
                csp,
                launched,
                quitting: AtomicBool::new(false),
                restarting: AtomicBool::new(false),
            });
            tray::install(app.handle())?;
            quit_on_signal(app.handle());
            if hidden {
                trim::soon(app.handle());
            } else {
                window::open(app.handle())?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())?;

    app.run(|app, event| match event {
        // The last window closed: stay in the tray. Only "Quit" exits (with a code).
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            let shell = app.state::<Shell>();
            if !shell.quitting.swap(true, Ordering::SeqCst) {
                let scheduler = shell.engine.scheduler.clone();
                tauri::async_runtime::block_on(scheduler.shutdown(SHUTDOWN_GRACE));
            }
            tracing::info!("Kairos stopped");
            if shell.restarting.load(Ordering::SeqCst) {
                relaunch(app);
            }
        }
        _ => {}
    });
    Ok(())
}

fn on_window_event<R: Runtime>(window: &tauri::Window<R>, event: &WindowEvent) {
    let app = window.app_handle();
    match event {
        WindowEvent::CloseRequested { .. } if !app.state::<Shell>().is_quitting() => {
            live::hint_tray_once(app);
        }
        WindowEvent::Destroyed => {
            // The process lives on, so write the size and position now, not only at exit.
            if let Err(e) = app.save_window_state(StateFlags::all()) {
                tracing::warn!("saving the window state failed: {e}");
            }
            tracing::info!("window closed; its webview is released, jobs keep running");
            if !app.state::<Shell>().is_quitting() {
                trim::soon(app);
            }
        }
        _ => {}
    }
}

/// Quits: closes the window, lets running jobs finish (up to [`SHUTDOWN_GRACE`]), then exits.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    let shell = app.state::<Shell>();
    if shell.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!("quitting: waiting for running jobs");
    app.state::<tray::TrayItems<R>>()
        .set_status("Quitting: letting running jobs finish…");
    if let Some(window) = app.get_webview_window(window::LABEL) {
        let _ = window.close();
    }
    let scheduler = shell.engine.scheduler.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        scheduler.shutdown(SHUTDOWN_GRACE).await;
        app.exit(0);
    });
}

/// Restarts: quits as "Quit" does (running jobs finish first), then launches again.
fn restart<R: Runtime>(app: &AppHandle<R>) {
    let shell = app.state::<Shell>();
    if shell.is_quitting() {
        return; // a quit under way stays a quit
    }
    tracing::info!("restarting on the chosen database");
    shell.restarting.store(true, Ordering::SeqCst);
    quit(app);
}

/// Launches the app again, with its window (a restart is asked for from the window).
fn relaunch<R: Runtime>(app: &AppHandle<R>) {
    // Released now, or the new process would find this one still running and hand over.
    tauri_plugin_single_instance::destroy(app);
    let args = std::env::args_os().skip(1).filter(|a| a != HIDDEN_FLAG);
    let launched = tauri::process::current_binary(&app.env()).and_then(|bin| {
        let mut command = std::process::Command::new(bin);
        // Its own process group, no input: what ends this launch leaves the new one. Its log
        // goes where this one's went (a write to a closed pipe fails quietly: SIGPIPE is
        // ignored).
        command
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command.spawn()
    });
    match launched {
        Ok(child) => tracing::info!("Kairos restarted as process {}", child.id()),
        Err(e) => tracing::error!("restarting Kairos failed: {e}"),
    }
}

/// SIGTERM and SIGINT quit as the tray's "Quit" does.
fn quit_on_signal<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::warn!("cannot listen for SIGTERM/SIGINT");
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            quit(&app);
        });
    }
    #[cfg(not(unix))]
    let _ = app;
}
