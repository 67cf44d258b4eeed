//! A fresh PostgreSQL database per test, on the server `KAIROS_TEST_PG` names (`make test`
//! starts a private one with `scripts/pg.sh`). Without it the test fails: it never skips.

use tokio_postgres::NoTls;

/// A database made for one test and dropped after it.
pub(crate) struct TestDb {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

/// The server's URL, or a failure that says how to get one.
pub(crate) fn server_url() -> String {
    std::env::var("KAIROS_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "this test needs PostgreSQL: run it through `make test` (which starts a private \
             server with scripts/pg.sh), or set KAIROS_TEST_PG=postgres://USER@HOST:PORT/DB"
        )
    })
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = task.await;
}

impl TestDb {
    /// Creates an empty database with a random name.
    pub(crate) fn new() -> Self {
        use rand::Rng;
        let admin = server_url();
        let name = format!("kairos_test_{:016x}", rand::thread_rng().gen::<u64>());
        run(execute(&admin, &format!("CREATE DATABASE {name}")));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        run(execute(&self.admin, &sql));
    }
}
