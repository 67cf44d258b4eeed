//! Alerts delivered to real receivers on loopback: an HTTP receiver standing in for the
//! webhook, Slack, DingTalk, Feishu and WeCom endpoints, which checks each payload and
//! recomputes the DingTalk and Feishu signatures as their documents describe, and an SMTP
//! sink that holds a real SMTP conversation.
#![cfg(feature = "alerts")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use kairos_core::alert::{AlertOn, Channel, Language, SmtpSecurity, Target};
use kairos_core::prelude::*;
use kairos_core::store::MemoryStore;
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the HTTP receiver got, by path: the query string and the JSON body.
type Received = Arc<Mutex<HashMap<String, Vec<(String, Value)>>>>;

async fn http_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/{service}",
            post(
                |State(got): State<Received>,
                 Path(service): Path<String>,
                 RawQuery(query): RawQuery,
                 body: String| async move {
                    let body: Value = serde_json::from_str(&body).expect("a JSON body");
                    got.lock()
                        .unwrap()
                        .entry(service.clone())
                        .or_default()
                        .push((query.unwrap_or_default(), body));
                    // Each robot answers as its service does.
                    match service.as_str() {
                        "dingtalk" | "wecom" => r#"{"errcode":0,"errmsg":"ok"}"#,
                        "feishu" => r#"{"code":0,"msg":"success"}"#,
                        "refuses" => r#"{"errcode":310000,"errmsg":"sign not match"}"#,
                        _ => "ok",
                    }
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

/// A minimal SMTP server: answers every command as a relay would and keeps each message.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let mails: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let kept = mails.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut data, mut mail) = (false, String::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    if data {
                        if line == "." {
                            data = false;
                            kept.lock().unwrap().push(std::mem::take(&mut mail));
                            write.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
                        } else {
                            mail.push_str(&line);
                            mail.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = true;
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

fn channel(id: &str, language: Language, target: Target) -> Channel {
    Channel {
        id: id.into(),
        name: id.into(),
        enabled: true,
        language,
        target,
    }
}

fn hmac_base64(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Waits (real time, the receivers being real) until `done` holds, for at most 15 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_reaches_every_channel_in_its_services_format() {
    let (base, received) = http_receiver().await;
    let (smtp_port, mails) = smtp_sink().await;
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    scheduler.set_alert_link_base(Some("http://kairos.test:7878".into()));
    let channels = [
        channel(
            "hook",
            Language::English,
            Target::Webhook {
                url: format!("{base}/webhook"),
                headers: [("X-Team".to_string(), "ops".to_string())].into(),
                template: None,
            },
        ),
        channel(
            "slack",
            Language::English,
            Target::Slack {
                url: format!("{base}/slack"),
            },
        ),
        channel(
            "ding",
            Language::Chinese,
            Target::Dingtalk {
                url: format!("{base}/dingtalk?access_token=tok"),
                secret: Some("SECding".into()),
            },
        ),
        channel(
            "lark",
            Language::Chinese,
            Target::Feishu {
                url: format!("{base}/feishu"),
                secret: Some("larksecret".into()),
            },
        ),
        channel(
            "wecom",
            Language::English,
            Target::Wecom {
                url: format!("{base}/wecom"),
            },
        ),
        channel(
            "mail",
            Language::English,
            Target::Email {
                host: "127.0.0.1".into(),
                port: smtp_port,
                security: SmtpSecurity::None,
                username: None,
                password: None,
                from: "Kairos <kairos@example.com>".into(),
                to: vec!["ops@example.com".into()],
            },
        ),
    ];
    for c in &channels {
        scheduler.add_channel(c.clone()).unwrap();
    }
    scheduler.start().unwrap();
    scheduler.register("boom", |_| async { Err::<(), _>("disk full") });
    let job = channels.iter().fold(
        Job::every(Duration::from_secs(86_400))
            .id("backup")
            .name("Nightly backup")
            .call("boom"),
        |job, c| job.alert(&c.id, &[AlertOn::Failed]),
    );
    scheduler.add(job).unwrap();
    let run = scheduler.run_now("backup").unwrap();

    until("six deliveries", || {
        scheduler
            .deliveries(None, 100)
            .unwrap()
            .iter()
            .filter(|d| d.ok)
            .count()
            == 6
    })
    .await;
    for d in scheduler.deliveries(None, 100).unwrap() {
        assert_eq!((d.job_id.as_deref(), d.run_id), (Some("backup"), Some(run)));
        assert_eq!(
            (d.outcome, d.attempt, d.ok),
            (AlertOn::Failed, 1, true),
            "{d:?}"
        );
    }
    let got = received.lock().unwrap().clone();
    let link = format!("http://kairos.test:7878/jobs/backup?run={run}");

    let (_, hook) = &got["webhook"][0];
    assert_eq!(hook["outcome"], "failed");
    assert_eq!(hook["job_id"], "backup");
    assert_eq!(hook["run_id"], run);
    assert_eq!(hook["error"], "disk full");
    assert_eq!(hook["link"], link.as_str());

    let (_, slack) = &got["slack"][0];
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("Kairos: job \"Nightly backup\" failed\n"),
        "{text}"
    );
    assert!(
        text.contains("Error: disk full") && text.contains(&link),
        "{text}"
    );

    let (_, wecom) = &got["wecom"][0];
    assert_eq!(wecom["msgtype"], "text");
    assert!(wecom["text"]["content"]
        .as_str()
        .unwrap()
        .contains("Nightly backup"));

    // DingTalk: ?access_token=…&timestamp=<ms>&sign=urlencode(base64(HMAC(secret,
    // "<ms>\n<secret>"))), and the text in Chinese.
    let (query, ding) = &got["dingtalk"][0];
    let params: HashMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    assert_eq!(params["access_token"], "tok");
    let ts = params["timestamp"];
    let expected = hmac_base64("SECding", &format!("{ts}\nSECding"))
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(params["sign"], expected);
    assert_eq!(ding["msgtype"], "text");
    assert!(ding["text"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Kairos：任务“Nightly backup”失败"));

    // Feishu: "timestamp" (seconds) and "sign" = base64(HMAC(key "<ts>\n<secret>", "")).
    let (_, lark) = &got["feishu"][0];
    let ts = lark["timestamp"].as_str().unwrap();
    assert_eq!(
        lark["sign"],
        hmac_base64(&format!("{ts}\nlarksecret"), "").as_str()
    );
    assert_eq!(lark["msg_type"], "text");
    assert!(lark["content"]["text"]
        .as_str()
        .unwrap()
        .contains("错误：disk full"));

    let mail = mails.lock().unwrap()[0].clone();
    assert!(
        mail.contains("Subject: Kairos: job \"Nightly backup\" failed"),
        "{mail}"
    );
    assert!(
        mail.contains("To: ops@example.com") && mail.contains("disk full"),
        "{mail}"
    );
    scheduler.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_unreachable_send_is_recorded_with_the_reason() {
    let (base, _) = http_receiver().await;
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    scheduler.start().unwrap();
    let refused = channel(
        "refuses",
        Language::English,
        Target::Dingtalk {
            url: format!("{base}/refuses"),
            secret: None,
        },
    );
    scheduler.add_channel(refused).unwrap();
    let test = scheduler.test_channel("refuses").await.unwrap();
    assert!(!test.ok);
    assert!(
        test.error.as_deref().unwrap().contains("sign not match"),
        "{test:?}"
    );
    assert_eq!(test.outcome, AlertOn::Test);

    // Nobody listens on port 9: a connection error, said as such.
    let gone = channel(
        "gone",
        Language::English,
        Target::Slack {
            url: "http://127.0.0.1:9/hook".into(),
        },
    );
    scheduler.add_channel(gone).unwrap();
    let test = scheduler.test_channel("gone").await.unwrap();
    let error = test.error.as_deref().unwrap();
    assert!(
        error.starts_with("cannot send") && error.contains("onnection refused"),
        "{test:?}"
    );
    assert!(!error.contains("/hook"), "no URL in what is kept: {error}");
    let recorded = scheduler.deliveries(Some("gone"), 10).unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].error, test.error);
    scheduler.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovered_and_slow_runs_are_told_and_repeats_held_back() {
    let (base, received) = http_receiver().await;
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    scheduler.start().unwrap();
    for id in ["fails", "recovers"] {
        let target = Target::Webhook {
            url: format!("{base}/{id}"),
            headers: Default::default(),
            template: Some(
                r#"{"outcome":"{{outcome}}","run":"{{run_id}}","text":"{{text}}"}"#.into(),
            ),
        };
        scheduler
            .add_channel(channel(id, Language::English, target))
            .unwrap();
    }
    // Fails twice, then succeeds (slowly).
    let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = calls.clone();
    scheduler.register("flaky", move |_| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if n < 2 {
                return Err("not yet".to_string());
            }
            tokio::time::sleep(Duration::from_millis(1200)).await;
            Ok(())
        }
    });
    let job = Job::every(Duration::from_secs(86_400))
        .id("flaky")
        .name("Flaky")
        .call("flaky")
        .alert("fails", &[AlertOn::Failed])
        .alert("recovers", &[AlertOn::Recovered]);
    scheduler.add(job).unwrap();
    let mut slow = scheduler.get_job("flaky").unwrap();
    let rules = slow.options.alerts.as_mut().unwrap();
    rules[1].on.push(AlertOn::Slow);
    rules[1].longer_than_s = Some(1);
    scheduler.update_job(slow).unwrap();

    let first = scheduler.run_now("flaky").unwrap();
    until("the first failure", || {
        received.lock().unwrap().contains_key("fails")
    })
    .await;
    let second = scheduler.run_now("flaky").unwrap(); // fails again: held back
    until("the second failure recorded", || {
        let run = scheduler.store().run(second).unwrap();
        run.is_some_and(|r| r.state.is_final())
    })
    .await;
    // Its place among the job's active runs is given back just after its record ends.
    let third = std::sync::Mutex::new(None);
    until("the third run to be taken", || {
        let mut third = third.lock().unwrap();
        *third = third.or_else(|| scheduler.run_now("flaky").ok());
        third.is_some()
    })
    .await;
    let third = third.into_inner().unwrap().unwrap();
    until("recovered and slow", || {
        received.lock().unwrap().get("recovers").map_or(0, Vec::len) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = received.lock().unwrap().clone();
    let fails: Vec<&Value> = got["fails"].iter().map(|(_, b)| b).collect();
    assert_eq!(
        fails.len(),
        1,
        "the repeat within 10 minutes is held back: {fails:?}"
    );
    assert_eq!(fails[0]["run"], first.to_string());
    // One channel, one job: the slow run's message waits behind the recovered one.
    let recovers: Vec<&Value> = got["recovers"].iter().map(|(_, b)| b).collect();
    assert_eq!(recovers.len(), 1, "{recovers:?}");
    assert_eq!(recovers[0]["outcome"], "recovered");
    assert_eq!(recovers[0]["run"], third.to_string());
    assert!(recovers[0]["text"].as_str().unwrap().contains("recovered"));
    scheduler.shutdown(Duration::from_secs(1)).await;
}
