//! The lost-updates check of `scripts/bench-http.sh` (`LOST_UPDATES=1`).
//!
//! `cargo run --release --example bench_lost_updates -- --url http://127.0.0.1:38081 \
//!     --requests 2000 --clients-per-field 1 --label ours`
//!
//! Against a server with the routes of `examples/bench_server.rs`: creates one session
//! (`GET /inc` without a cookie), then, all sharing that one cookie, K clients send `GET /inc`
//! (field `count`) and K other clients send `GET /inc2` (field `count2`) at the same time,
//! N requests per field in all, each client waiting for its answer before the next request.
//! Every request must answer 200 with a number, so the number of increments sent is exact.
//! At the end `GET /read` and `GET /read2` give the stored values.
//!
//! With K = 1 the only possible losses are between the two fields (each field has a single,
//! sequential writer), which is what a per-field patch must never lose. With K > 1
//! increments of the same field race as well (read-modify-write, last writer wins in any
//! session library), so losses there are expected and not a bug.
//!
//! Prints one markdown row per field: `| label | K | field | expected | actual | lost |`.
//! Exits non-zero if a request failed (the count would not be exact).

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, SET_COOKIE};

struct Args {
    url: String,
    requests: u64,
    clients: u64,
    label: String,
}

const USAGE: &str = "usage: bench_lost_updates --url http://127.0.0.1:PORT [--requests N] \
[--clients-per-field K] [--label NAME]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        requests: 2000,
        clients: 1,
        label: "server".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    let num = |flag: &str, v: Option<String>| -> Result<u64, String> {
        let v = v.ok_or(format!("{flag} needs a number"))?;
        match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{flag} {v}: expected a positive number")),
        }
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--url" => args.url = it.next().ok_or("--url needs a value")?,
            "--requests" => args.requests = num(&arg, it.next())?,
            "--clients-per-field" => args.clients = num(&arg, it.next())?,
            "--label" => args.label = it.next().ok_or("--label needs a value")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if args.url.is_empty() {
        return Err(format!("--url is required\n{USAGE}"));
    }
    if args.clients > args.requests {
        return Err("--clients-per-field must not exceed --requests".into());
    }
    args.url = args.url.trim_end_matches('/').to_owned();
    Ok(args)
}

/// `GET url` with the cookie; the answer must be 200 with a number.
async fn get_number(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
) -> Result<(u64, Option<String>), String> {
    let mut req = client.get(url);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let res = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = res.status();
    let set_cookie = res
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_owned());
    let body = res
        .text()
        .await
        .map_err(|e| format!("GET {url}: body: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("GET {url}: {status}: {body}"));
    }
    let n = body
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("GET {url}: not a number: {body:?}"))?;
    Ok((n, set_cookie))
}

async fn run(args: Args) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;

    // One session; its cookie is shared by every client.
    let (first, set_cookie) = get_number(&client, &format!("{}/inc", args.url), None).await?;
    let cookie = match set_cookie {
        Some(c) => Some(c),
        None => {
            eprintln!(
                "{}: no Set-Cookie from the first /inc: the counters are not per session",
                args.label
            );
            None
        }
    };
    let (base2, _) = get_number(&client, &format!("{}/read2", args.url), cookie.as_deref()).await?;
    let base = [first, base2];

    let started = Instant::now();
    let mut tasks = Vec::new();
    for (field, route) in [(0usize, "/inc"), (1usize, "/inc2")] {
        for c in 0..args.clients {
            // Split N exactly over the K clients of this field.
            let share = args.requests / args.clients + u64::from(c < args.requests % args.clients);
            let client = client.clone();
            let url = format!("{}{route}", args.url);
            let cookie = cookie.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..share {
                    get_number(&client, &url, cookie.as_deref()).await?;
                }
                Ok::<(usize, u64), String>((field, share))
            }));
        }
    }
    let mut sent = [0u64; 2];
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok((field, n))) => sent[field] += n,
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(format!("client task: {e}")),
        }
    }
    let elapsed = started.elapsed();
    if !errors.is_empty() {
        return Err(format!(
            "{} client(s) failed, the count is not exact; first: {}",
            errors.len(),
            errors[0]
        ));
    }

    let (count, _) = get_number(&client, &format!("{}/read", args.url), cookie.as_deref()).await?;
    let (count2, _) =
        get_number(&client, &format!("{}/read2", args.url), cookie.as_deref()).await?;
    eprintln!(
        "{}: {} requests from {} concurrent clients in {:.2}s",
        args.label,
        sent[0] + sent[1],
        2 * args.clients,
        elapsed.as_secs_f64()
    );
    for (i, (name, actual)) in [("count", count), ("count2", count2)]
        .into_iter()
        .enumerate()
    {
        let expected = base[i] + sent[i];
        let lost = expected as i128 - actual as i128;
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            args.label, args.clients, name, expected, actual, lost
        );
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_lost_updates: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("bench_lost_updates: {e}");
        std::process::exit(1);
    }
}
