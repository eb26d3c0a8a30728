//! The demo example binary (built by `cargo test`) as a child process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::engines::free_port;

/// A running demo, killed when dropped.
pub struct Demo {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo with `args` on a free port and waits (up to `attempts` × 25 ms) until it
/// answers `GET /peek`. `what` names it in the panics when it exits or does not start.
pub async fn spawn_demo(args: &[&str], attempts: usize, what: &str) -> Demo {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let demo = dir.join(format!("demo{}", std::env::consts::EXE_SUFFIX));
    assert!(
        demo.exists(),
        "cargo test builds examples; {} is missing",
        demo.display()
    );
    let port = free_port();
    let child = Command::new(&demo)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut d = Demo {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let c = reqwest::Client::new();
    for _ in 0..attempts {
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!("{what} exited at start-up: {status}");
        }
        if c.get(format!("{}/peek", d.base)).send().await.is_ok() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not start");
}
