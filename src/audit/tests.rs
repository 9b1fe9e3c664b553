use super::store::{Store, Verdict};
use super::*;

fn row(i: i64) -> AuditRow {
    AuditRow {
        time_ms: 1_700_000_000_000 + i * 1000,
        request_id: format!("req-{i}"),
        key: Some("team-a".into()),
        endpoint: "chat".into(),
        level: "confidential".into(),
        categories: BTreeMap::from([("pii".into(), 2)]),
        kinds: BTreeMap::from([("email".into(), 1), ("phone".into(), 1)]),
        task: "summarization".into(),
        complexity: 0.31,
        rule: Some("sensitive-local".into()),
        tier: Some("local".into()),
        backend: Some("ollama".into()),
        model: Some("llama3.1:8b".into()),
        input_tokens: 120,
        output_tokens: 40,
        cached_tokens: 0,
        tokens_estimated: false,
        cost_usd: 0.0,
        latency_ms: 812.5,
        ttft_ms: Some(95.0),
        status: 200,
        outcome: "ok".into(),
        conversation: Some("ab".repeat(32)),
        prompt: None,
        completion: None,
    }
}

fn store_with(n: i64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = Store::open(&dir.path().join("audit.sqlite")).expect("open");
    let rows: Vec<_> = (1..=n).map(row).collect();
    s.append(&rows[..rows.len() / 2]).expect("append");
    s.append(&rows[rows.len() / 2..]).expect("append");
    (dir, s)
}

fn broken_at(s: &Store) -> (i64, String) {
    match s.verify().expect("verify") {
        Verdict::Broken { seq, reason } => (seq, reason),
        v => panic!("tampering went unnoticed: {v:?}"),
    }
}

#[test]
fn an_untouched_chain_verifies_and_survives_reopening() {
    let (dir, s) = store_with(10);
    assert_eq!(
        s.verify().expect("verify"),
        Verdict::Intact {
            rows: 10,
            first_seq: 1,
            last_seq: 10
        }
    );
    drop(s);
    // Reopened, it goes on from its head.
    let mut s = Store::open(&dir.path().join("audit.sqlite")).expect("reopen");
    s.append(&[row(11)]).expect("append");
    assert!(matches!(
        s.verify().expect("verify"),
        Verdict::Intact { rows: 11, .. }
    ));
}

#[test]
fn an_edited_record_is_found() {
    let (_d, s) = store_with(10);
    s.execute("UPDATE records SET record = replace(record, '\"restricted\"', '') WHERE seq = 1")
        .expect("noop");
    assert!(matches!(
        s.verify().expect("verify"),
        Verdict::Intact { .. }
    ));
    s.execute("UPDATE records SET record = replace(record, '\"tier\":\"local\"', '\"tier\":\"public_cloud\"') WHERE seq = 4")
        .expect("edit");
    let (seq, reason) = broken_at(&s);
    assert_eq!(seq, 4);
    assert!(reason.contains("changed"), "{reason}");
}

#[test]
fn a_deleted_record_is_found() {
    let (_d, s) = store_with(10);
    s.execute("DELETE FROM records WHERE seq = 6")
        .expect("delete");
    let (seq, reason) = broken_at(&s);
    assert_eq!(seq, 7);
    assert!(reason.contains("missing"), "{reason}");
}

#[test]
fn a_record_rehashed_after_an_edit_breaks_the_next_link() {
    let (_d, s) = store_with(10);
    // Edit record 3 and recompute its own hash: record 4 still points at
    // the old one.
    let (prev, json): (String, String) = s
        .conn_for_test()
        .query_row("SELECT prev, record FROM records WHERE seq = 3", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    let edited = json.replace("\"cost_usd\":0.0", "\"cost_usd\":9.0");
    let mut p = [0u8; 32];
    for (i, b) in p.iter_mut().enumerate() {
        *b = u8::from_str_radix(&prev[2 * i..2 * i + 2], 16).expect("hex");
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&p);
    ctx.update(edited.as_bytes());
    let hash = store::hex(ctx.finish().as_ref());
    s.conn_for_test()
        .execute(
            "UPDATE records SET record = ?1, hash = ?2 WHERE seq = 3",
            rusqlite::params![edited, hash],
        )
        .expect("rewrite");
    let (seq, reason) = broken_at(&s);
    assert_eq!(seq, 4);
    assert!(reason.contains("link"), "{reason}");
}

#[test]
fn a_cut_tail_and_an_edited_time_are_found() {
    let (_d, s) = store_with(10);
    s.execute("DELETE FROM records WHERE seq >= 9")
        .expect("cut");
    let (seq, reason) = broken_at(&s);
    assert_eq!(seq, 9);
    assert!(reason.contains("cut"), "{reason}");

    let (_d, s) = store_with(5);
    s.execute("UPDATE records SET time_ms = 0 WHERE seq = 2")
        .expect("edit");
    let (seq, reason) = broken_at(&s);
    assert_eq!(seq, 2);
    assert!(reason.contains("time"), "{reason}");
}

#[test]
fn pruning_keeps_the_chain_verifiable() {
    let (_d, mut s) = store_with(10);
    // Records 1..=4 are older than the cutoff.
    let cutoff = row(5).time_ms;
    assert_eq!(s.prune_before(cutoff).expect("prune"), 4);
    assert_eq!(
        s.verify().expect("verify"),
        Verdict::Intact {
            rows: 6,
            first_seq: 5,
            last_seq: 10
        }
    );
    // Deleting the oldest kept record is still found.
    s.execute("DELETE FROM records WHERE seq = 5")
        .expect("delete");
    assert_eq!(broken_at(&s).0, 6);
}

#[test]
fn rows_read_back_as_written() {
    let (_d, s) = store_with(4);
    let mut got = Vec::new();
    s.rows_since(row(3).time_ms, |seq, hash, r| {
        assert_eq!(hash.len(), 64);
        got.push((seq, r));
        Ok(())
    })
    .expect("read");
    assert_eq!(got, vec![(3, row(3)), (4, row(4))]);
}

#[test]
fn the_writer_stores_in_the_background_and_counts_what_it_drops() {
    let dir = tempfile::tempdir().expect("tmp");
    let settings = AuditSettings {
        path: dir.path().join("a/b/audit.sqlite"),
        queue: 4,
        ..AuditSettings::default()
    };
    let audit = Audit::open(&settings).expect("open");
    for i in 1..=3 {
        audit.record(row(i));
    }
    assert!(audit.flush(Duration::from_secs(5)));
    assert_eq!(audit.written(), 3);
    // A flood past the queue is dropped, never blocking the caller.
    let start = Instant::now();
    for i in 0..10_000 {
        audit.record(row(i));
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(audit.flush(Duration::from_secs(5)));
    assert!(audit.dropped() > 0);
    assert_eq!(audit.written() + audit.dropped(), 10_003);
    let s = Store::open(&settings.path).expect("open");
    assert!(matches!(
        s.verify().expect("verify"),
        Verdict::Intact { .. }
    ));
}

/// The writer sleeps while it gathers a batch (so that requests do not
/// wake it one by one); the request that fills half a small queue wakes
/// it, so a steady trickle into that queue loses nothing.
#[test]
fn a_filling_queue_wakes_the_sleeping_writer() {
    let dir = tempfile::tempdir().expect("tmp");
    let settings = AuditSettings {
        path: dir.path().join("audit.sqlite"),
        queue: 8,
        ..AuditSettings::default()
    };
    let audit = Audit::open(&settings).expect("open");
    // 40 rows over ~400 ms: a writer asleep for all of BATCH_WAIT (200 ms)
    // would find the 8-row queue overflowing.
    for i in 0..40 {
        audit.record(row(i));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(audit.flush(Duration::from_secs(5)));
    assert_eq!((audit.written(), audit.dropped()), (40, 0));
}

#[test]
fn since_windows() {
    let now = 1_000_000_000;
    assert_eq!(parse_since("30m", now), Ok(now - 1_800_000));
    assert_eq!(parse_since("24h", now), Ok(now - 86_400_000));
    assert_eq!(parse_since("7d", now), Ok(now - 604_800_000));
    assert_eq!(parse_since("all", now), Ok(i64::MIN));
    assert!(parse_since("7w", now).is_err());
    assert!(parse_since("d", now).is_err());
}

#[test]
fn conversation_hashes_are_salted_and_stable() {
    let dir = tempfile::tempdir().expect("tmp");
    let open = |name: &str| {
        Audit::open(&AuditSettings {
            path: dir.path().join(name),
            ..AuditSettings::default()
        })
        .expect("open")
    };
    let a = open("a.sqlite");
    let h = a.conversation_hash(["system", "hello"]);
    assert_eq!(h.len(), 64);
    assert_eq!(h, a.conversation_hash(["system", "hello"]));
    // Boundaries count: ("ab", "c") is not ("a", "bc").
    assert_ne!(
        a.conversation_hash(["ab", "c"]),
        a.conversation_hash(["a", "bc"])
    );
    // Another database has another salt; the same database keeps its own.
    assert_ne!(h, open("b.sqlite").conversation_hash(["system", "hello"]));
    drop(a);
    assert_eq!(h, open("a.sqlite").conversation_hash(["system", "hello"]));
}

mod report_tests {
    use super::super::report::{build, date, render_csv, render_table};
    use super::*;

    const CONFIG: &str = r#"
[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://127.0.0.1:11434"
tier = "local"
models = ["llama3.1:8b"]
monthly_cost_usd = 300.0
[[backends]]
name = "openai"
protocol = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "K"
tier = "public_cloud"
models = ["gpt-4o"]
prices."gpt-4o" = { input = 2.0, output = 10.0 }
[pools]
local = ["ollama/llama3.1:8b"]
frontier = ["openai/gpt-4o"]
[economics]
cloud_pool = "frontier"
local_pool = "local"
[[rules]]
name = "default"
pool = "local"
"#;

    fn at(
        day: i64,
        level: &str,
        tier: Option<&str>,
        backend: Option<&str>,
        status: u16,
    ) -> AuditRow {
        AuditRow {
            time_ms: 1_763_942_400_000 + day * 86_400_000, // 2025-11-24
            level: level.into(),
            tier: tier.map(Into::into),
            backend: backend.map(Into::into),
            status,
            task: "chat".into(),
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cost_usd: if tier == Some("public_cloud") {
                3.0
            } else {
                0.0
            },
            latency_ms: 100.0 * (day + 1) as f64,
            ..AuditRow::default()
        }
    }

    #[test]
    fn flows_costs_what_ifs_and_latency() {
        let config = crate::config::from_toml_str(CONFIG, &|_| Some("k".into()))
            .expect("config")
            .config;
        let rows = vec![
            at(0, "confidential", Some("local"), Some("ollama"), 200),
            at(0, "public", Some("public_cloud"), Some("openai"), 200),
            at(1, "restricted", Some("local"), Some("ollama"), 200),
            at(1, "restricted", None, None, 403),
            at(2, "restricted", Some("public_cloud"), Some("openai"), 200),
        ];
        let until = rows[4].time_ms + 86_400_000;
        let r = build(&config, &rows, Some(rows[0].time_ms), until);
        assert_eq!((r.requests, r.served), (5, 4));
        assert_eq!(r.restricted_to_cloud, 1);
        assert_eq!(r.local_share, 0.5);
        assert!((r.cost_usd - 6.0).abs() < 1e-9);
        assert_eq!(r.cost_by_tier["public_cloud"], 6.0);
        // All four served answers at $2 + $1 each.
        assert_eq!(r.all_cloud_usd, Some(12.0));
        // Three days of $10 a day.
        assert!((r.all_local_usd.expect("local") - 30.0).abs() < 1e-9);
        let refused = r.flows.iter().find(|f| f.tier == "none").expect("refused");
        assert_eq!(
            (
                refused.level.as_str(),
                refused.requests,
                refused.backend.as_str()
            ),
            ("restricted", 1, "none")
        );
        let ollama = r
            .latency
            .iter()
            .find(|l| l.backend == "ollama")
            .expect("ollama");
        assert_eq!((ollama.requests, ollama.p50_ms), (2, 200.0));
        assert_eq!(r.daily.len(), 3);
        assert_eq!(r.daily[0].date, "2025-11-24");
        assert_eq!(r.daily[0].requests, 2);
        let table = render_table(&r, true);
        assert!(table.contains("\x1b[31mrestricted"), "{table}");
        assert!(table.contains("(must be 0)"));
        assert!(!render_table(&r, false).contains('\x1b'));
        let csv = render_csv(&r);
        assert!(csv.contains("total,,,restricted_to_cloud,1\n"), "{csv}");
        assert!(
            csv.contains("flow,restricted/public_cloud,openai,requests,1\n"),
            "{csv}"
        );
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(date(1_763_942_400_000 + 86_399_999), "2025-11-24");
        assert_eq!(date(-1), "1969-12-31");
    }
}
