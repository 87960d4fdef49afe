//! The hub on its PostgreSQL store, against the real server in RELAY_TEST_POSTGRES (each test
//! in a schema of its own; see `support::stores`): everything it keeps survives a close and a
//! reopen, offsets go on after a reopen and after a crash without ever being handed out twice,
//! history older than the in-memory window is read from the database, one hub owns a schema at
//! a time, hubs racing on an empty database migrate it once, an outage loses exactly the
//! commits it failed while later ones succeed, and an owner that comes back after another hub
//! owned the state meanwhile writes nothing more.

use std::sync::{Arc, Barrier};

use relay_channels::{ConnHandle, Hub, HubConfig, HubError, PostgresError};
use serde_json::{json, Value};

use crate::support::recorder::Recorder;
use crate::support::stores::{as_user, postgres_base, with_param, Admin, Place};

fn cfg() -> HubConfig {
    HubConfig {
        max_frames_per_sec: 0,
        ..HubConfig::default()
    }
}

/// What the tests set up on a fresh store: an owner with a service bound to a channel, users
/// who have joined it, and a group of them all.
struct Setup {
    owner: String,
    owner_token: String,
    service: String,
    channel: String,
    group: String,
    users: Vec<(String, String)>,
}

fn setup(hub: &Hub, users: usize) -> Setup {
    let owner = hub.add_account("owner@example.com", "pw", None).unwrap();
    let owner_token = hub.sign_in("owner@example.com", "pw").unwrap().access_token;
    let service = hub.create_service(&owner.user_id, "test").unwrap();
    let channel = hub.create_channel(&owner.user_id, "room", "").unwrap();
    hub.bind(&owner.user_id, &channel, &service).unwrap();
    let users: Vec<(String, String)> = (0..users)
        .map(|i| {
            let email = format!("user{i}@example.com");
            let a = hub.add_account(&email, "pw", None).unwrap();
            (a.user_id, hub.sign_in(&email, "pw").unwrap().access_token)
        })
        .collect();
    let s = Setup {
        owner: owner.user_id,
        owner_token,
        service,
        channel,
        group: String::new(),
        users,
    };
    for i in 0..s.users.len() {
        s.user(hub, i, true);
    }
    let ids = s.users.iter().map(|u| u.0.clone()).collect();
    let group = hub.create_group("owner", Some(&s.channel), ids).unwrap();
    Setup { group, ..s }
}

impl Setup {
    fn service(&self, hub: &Hub) -> (ConnHandle, Arc<Recorder>) {
        let out = Arc::new(Recorder::default());
        let h = hub.connect(out.clone());
        hub.on_frame(h.id, &json!({"type": "service_login", "request_id": "l", "access_token": self.owner_token, "service_id": self.service}).to_string());
        assert_eq!(out.copies(), [true], "service login");
        (h, out)
    }

    fn user(&self, hub: &Hub, i: usize, join: bool) -> (ConnHandle, Arc<Recorder>) {
        let out = Arc::new(Recorder::default());
        let h = hub.connect(out.clone());
        hub.on_frame(
            h.id,
            &json!({"type": "user_login", "request_id": "l", "access_token": self.users[i].1})
                .to_string(),
        );
        if join {
            hub.on_frame(h.id, &json!({"type": "action", "request_id": "j", "body": {"subtype": "join_channel", "channel_id": self.channel, "context": {}}}).to_string());
        }
        (h, out)
    }

    fn say(&self, hub: &Hub, service: &ConnHandle, text: &str) {
        hub.on_frame(service.id, &json!({"type": "message_down", "request_id": text, "body": {"subtype": "text", "channel_id": self.channel, "content": {"text": text}, "recipients": self.group, "timestamp": 0, "context": {}, "sender": "bot"}}).to_string());
    }

    fn resume(&self, hub: &Hub, user: &ConnHandle, out: &Recorder, after: u64) -> Value {
        hub.on_frame(user.id, &json!({"type": "resume", "request_id": "r", "body": {"channel_id": self.channel, "offset": after}}).to_string());
        out.last_copy()["body"]["context"].clone()
    }
}

fn texts(history: &[relay_wire::channel::outbound::MessageBody]) -> Vec<String> {
    history
        .iter()
        .map(|m| m.content["text"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for the writer to commit what is queued so far; whether it was lost.
fn committed_lost(hub: &Hub) -> bool {
    let tag = hub.commits().queued();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(hub.commits().wait_for(tag));
    hub.commits().lost(tag)
}

#[test]
fn everything_the_hub_keeps_survives_a_close_and_reopen() {
    let Some(place) = Place::postgres("survives") else {
        return;
    };
    let hub = place.open(cfg()).unwrap();
    let epoch = hub.epoch().to_owned();
    let s = setup(&hub, 2);
    let agent = hub
        .create_agent(&s.owner, &s.service, "Helper", None, Some("bot".into()))
        .unwrap();
    let (svc, _) = s.service(&hub);
    for t in ["one", "two", "three"] {
        s.say(&hub, &svc, t);
    }
    let style = json!([{"widget": "canvas", "display": "invisible"}]);
    hub.on_frame(svc.id, &json!({"type": "update", "request_id": "u", "body": {"subtype": "style", "channel_id": s.channel, "recipients": s.group, "content": style, "group_id": "temp"}}).to_string());
    hub.close().unwrap();
    drop(hub);

    let hub = place.open(cfg()).unwrap();
    assert_eq!(
        hub.epoch(),
        epoch,
        "the epoch is the store's, not the process's"
    );
    let emails: Vec<String> = hub.list_accounts().into_iter().map(|a| a.email).collect();
    for e in [
        "owner@example.com",
        "user0@example.com",
        "user1@example.com",
    ] {
        assert!(emails.contains(&e.to_owned()), "{e} in {emails:?}");
    }
    assert_eq!(hub.authenticate(&s.owner_token).unwrap(), s.owner, "tokens");
    assert!(
        hub.sign_in("user1@example.com", "pw").is_ok(),
        "password hashes"
    );
    assert_eq!(
        hub.list_services(&s.owner),
        [(s.service.clone(), vec![s.channel.clone()])],
        "services and their bindings"
    );
    assert_eq!(hub.channel(&s.channel).unwrap().name, "room");
    let mut members = hub.members(&s.channel).unwrap();
    members.sort();
    // The owner (who created the channel) and the users who joined over the socket.
    let mut joined: Vec<String> = s.users.iter().map(|u| u.0.clone()).collect();
    joined.push(s.owner.clone());
    joined.sort();
    assert_eq!(members, joined, "memberships");
    assert_eq!(hub.group(&s.group).unwrap().len(), 2, "groups");
    let agents: Vec<String> = hub
        .list_agents(&s.service)
        .into_iter()
        .map(|c| c.character_id)
        .collect();
    assert_eq!(agents, [agent.character_id], "agents");
    let history = hub.history(&s.users[0].0, &s.channel, 10, None).unwrap();
    assert_eq!(texts(&history), ["three", "two", "one"], "messages");
    // The UI state: a refresh replays the style the service pushed before the restart.
    let (user, out) = s.user(&hub, 0, false);
    hub.on_frame(
        user.id,
        &json!({"type": "refresh", "request_id": "f", "body": {"channel_id": s.channel}})
            .to_string(),
    );
    let updates: Vec<Value> = out
        .frames()
        .into_iter()
        .filter(|f| f["type"] == "update")
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0]["body"]["subtype"], "style");
    assert_eq!(updates[0]["body"]["content"], style);
}

#[test]
fn offsets_go_on_after_a_reopen_and_after_a_crash_and_are_never_handed_twice() {
    let Some(place) = Place::postgres("offsets") else {
        return;
    };
    let hub = place.open(cfg()).unwrap();
    let s = setup(&hub, 1);
    let (svc, _) = s.service(&hub);
    let (_, first) = s.user(&hub, 0, false);
    for t in ["a", "b", "c"] {
        s.say(&hub, &svc, t);
    }
    assert_eq!(first.offsets(), [0, 1, 2]);
    hub.close().unwrap();
    drop(hub);

    // A clean stop skips nothing.
    let hub = place.open(cfg()).unwrap();
    let (svc, _) = s.service(&hub);
    let (_, second) = s.user(&hub, 0, false);
    s.say(&hub, &svc, "d");
    assert_eq!(second.offsets(), [3]);
    hub.flush().unwrap();
    // A crash: dropped without a clean stop, so the offsets reserved beyond "d" may have gone
    // out to recipients whose messages the database never got.
    drop(hub);

    let hub = place.open(cfg()).unwrap();
    let (svc, _) = s.service(&hub);
    let (user, third) = s.user(&hub, 0, false);
    s.say(&hub, &svc, "e");
    let after_crash = third.offsets();
    assert_eq!(after_crash.len(), 1);
    assert!(
        after_crash[0] > 3,
        "an offset reserved before the crash was handed again: {after_crash:?}"
    );
    // A resume across the skipped offsets says messages may be missing, and replays what the
    // database holds.
    let ctx = s.resume(&hub, &user, &third, 0);
    assert_eq!(ctx["gap"], true, "{ctx}");
    assert!(
        ctx["message"]
            .as_str()
            .unwrap()
            .contains("may have been lost"),
        "{ctx}"
    );
    assert_eq!(third.messages(), ["e", "b", "c", "d", "e"]);
    hub.close().unwrap();
    drop(hub);

    let hub = place.open(cfg()).unwrap();
    let (svc, _) = s.service(&hub);
    let (_, fourth) = s.user(&hub, 0, false);
    s.say(&hub, &svc, "f");
    assert_eq!(fourth.offsets(), [after_crash[0] + 1]);
}

#[test]
fn history_older_than_the_memory_window_is_read_from_the_database() {
    let Some(place) = Place::postgres("history") else {
        return;
    };
    let small = || HubConfig {
        recent_in_memory: 4,
        ..cfg()
    };
    let hub = place.open(small()).unwrap();
    let s = setup(&hub, 1);
    let (svc, _) = s.service(&hub);
    let sent: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    for t in &sent {
        s.say(&hub, &svc, t);
    }
    hub.flush().unwrap();
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    let history = hub.history(&s.users[0].0, &s.channel, 50, None).unwrap();
    assert_eq!(texts(&history), newest_first, "while running");
    hub.close().unwrap();
    drop(hub);

    let hub = place.open(small()).unwrap();
    let history = hub.history(&s.users[0].0, &s.channel, 50, None).unwrap();
    assert_eq!(texts(&history), newest_first, "after a reopen");
    // A resume from the start replays them all, the older ones from the database.
    let (user, out) = s.user(&hub, 0, false);
    let ctx = s.resume(&hub, &user, &out, 0);
    assert_eq!(ctx["gap"], false, "{ctx}");
    assert_eq!(out.messages(), sent[1..]);
}

#[test]
fn a_second_hub_is_refused_while_the_first_owns_the_schema() {
    let Some(place) = Place::postgres("owner") else {
        return;
    };
    let first = place.open(cfg()).unwrap();
    first.add_account("owner@example.com", "pw", None).unwrap();
    match place.open(cfg()) {
        Err(HubError::Postgres(e @ PostgresError::Owned { .. })) => {
            let text = e.to_string();
            assert!(text.contains("already owned"), "{text}");
            assert!(
                text.contains("backend pid") && text.contains("relay-channels"),
                "the refusal names what holds the schema: {text}"
            );
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a second hub opened the schema the first owns"),
    }
    drop(first);
    let second = place.open(cfg()).unwrap();
    assert_eq!(second.list_accounts().len(), 1);
}

#[test]
fn hubs_racing_to_open_an_empty_database_migrate_it_once() {
    let Some(base) = postgres_base("race") else {
        return;
    };
    let place = Place::postgres("race").unwrap();
    let url = place.url.clone().unwrap();
    let start = Arc::new(Barrier::new(4));
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let start = start.clone();
            let url = url.clone();
            let dir = std::env::temp_dir().join(format!("relay-race-{}", place.name));
            std::thread::spawn(move || {
                start.wait();
                Hub::open_postgres(&url, &dir, cfg())
            })
        })
        .collect();
    let results: Vec<Result<Hub, HubError>> =
        racers.into_iter().map(|r| r.join().unwrap()).collect();
    let opened = results.iter().filter(|r| r.is_ok()).count();
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, HubError::Postgres(PostgresError::Owned { .. })),
                "a racer failed otherwise than by being refused: {e}"
            );
        }
    }
    assert_eq!(opened, 1, "exactly one racer owns the schema");
    let schema = url.split("schema=").nth(1).unwrap();
    let admin = Admin::connect(&base);
    let versions = admin.column(&format!(
        "SELECT version FROM {schema}.channel_migrations ORDER BY version"
    ));
    assert_eq!(versions, ["1", "2"], "each migration applied once");
    let _ =
        std::fs::remove_dir_all(std::env::temp_dir().join(format!("relay-race-{}", place.name)));
}

#[test]
fn an_outage_loses_the_commits_it_failed_and_later_ones_succeed() {
    let Some(base) = postgres_base("outage") else {
        return;
    };
    // A role of this test's own, so that it can be shut out without shutting out the other
    // tests on the same server.
    let role = format!("chs_outage_{}", std::process::id());
    let admin = Admin::connect(&base);
    admin.execute(&format!(
        "DROP SCHEMA IF EXISTS {role} CASCADE; DROP ROLE IF EXISTS {role};
         CREATE ROLE {role} LOGIN; CREATE SCHEMA {role} AUTHORIZATION {role};"
    ));
    let url = with_param(&as_user(&base, &role), &format!("schema={role}"));
    let place = Place::postgres_at("outage", url);
    let hub = place.open(cfg()).unwrap();
    let s = setup(&hub, 1);
    let (svc, _) = s.service(&hub);
    s.say(&hub, &svc, "before");
    assert!(!committed_lost(&hub));

    admin.execute(&format!(
        "ALTER ROLE {role} NOLOGIN;
         SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = '{role}';"
    ));
    s.say(&hub, &svc, "during");
    assert!(
        committed_lost(&hub),
        "a message committed while the database was out of reach is reported lost"
    );
    assert!(hub.flush().is_err(), "a sync during the outage fails");
    s.say(&hub, &svc, "still during");
    assert!(committed_lost(&hub));

    admin.execute(&format!("ALTER ROLE {role} LOGIN;"));
    s.say(&hub, &svc, "after");
    assert!(
        !committed_lost(&hub),
        "the writer reconnected and commits again"
    );
    hub.flush().unwrap();
    hub.close().unwrap();
    drop(hub);

    let hub = place.open(cfg()).unwrap();
    let history = hub.history(&s.users[0].0, &s.channel, 10, None).unwrap();
    assert_eq!(
        texts(&history),
        ["after", "before"],
        "what the outage lost is not in the database, what followed is"
    );
    drop(hub);
    admin.execute(&format!("DROP SCHEMA {role} CASCADE; DROP ROLE {role};"));
}

#[test]
fn an_owner_that_finds_the_state_owned_meanwhile_by_another_hub_never_writes_again() {
    let Some(base) = postgres_base("fence") else {
        return;
    };
    let role = format!("chs_fence_{}", std::process::id());
    let admin = Admin::connect(&base);
    admin.execute(&format!(
        "DROP SCHEMA IF EXISTS {role} CASCADE; DROP ROLE IF EXISTS {role};
         CREATE ROLE {role} LOGIN; CREATE SCHEMA {role} AUTHORIZATION {role};"
    ));
    let url = with_param(&as_user(&base, &role), &format!("schema={role}"));
    let place = Place::postgres_at("fence", url);
    let old = place.open(cfg()).unwrap();
    let s = setup(&old, 1);
    let (svc, _) = s.service(&old);
    s.say(&old, &svc, "before");
    assert!(!committed_lost(&old));

    // The old owner is shut out; meanwhile another hub owns the state, changes it and stops,
    // so that the lock is free again when the old owner comes back.
    admin.execute(&format!(
        "ALTER ROLE {role} NOLOGIN;
         SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE usename = '{role}';"
    ));
    let other = Place::postgres_at("fence-other", with_param(&base, &format!("schema={role}")));
    let new = other.open(cfg()).unwrap();
    new.add_account("meanwhile@example.com", "pw", None)
        .unwrap();
    new.close().unwrap();
    drop(new);
    admin.execute(&format!("ALTER ROLE {role} LOGIN;"));

    s.say(&old, &svc, "stale");
    assert!(
        committed_lost(&old),
        "the old owner's commit after the other hub's ownership is refused"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let owner = rt
        .block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(30), old.ownership_lost()).await
        })
        .expect("the hub says it lost the state");
    assert!(!owner.is_empty());
    s.say(&old, &svc, "still stale");
    assert!(committed_lost(&old), "and every later one");
    drop(old);

    let hub = other.open(cfg()).unwrap();
    let history = hub.history(&s.users[0].0, &s.channel, 10, None).unwrap();
    assert_eq!(texts(&history), ["before"], "nothing stale was written");
    assert!(hub
        .list_accounts()
        .iter()
        .any(|a| a.email == "meanwhile@example.com"));
    drop(hub);
    admin.execute(&format!("DROP SCHEMA {role} CASCADE; DROP ROLE {role};"));
}
