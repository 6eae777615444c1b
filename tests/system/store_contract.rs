//! The store contract: one suite, run against both stores. SQLite runs in memory, and again on
//! a file as `herald serve` opens it (WAL, read-only connections beside the writer); DynamoDB
//! runs against the DynamoDB-compatible server that `tests/run` starts (moto), each test on a
//! fresh table. Without `HERALD_TEST_DYNAMODB_ENDPOINT` the DynamoDB half FAILS rather than
//! skipping: the contract is never silently half-checked.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use herald_core::domain::*;
use herald_core::store::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().expect("valid instant")
}

fn team(id: &str) -> Team {
    Team { language: Default::default(), logo: None, brand: Default::default(), version: 0,
        id: TeamId::parse("team", id).unwrap(),
        name: id.into(),
        time_zone: chrono_tz::Europe::Paris,
        created_at: t0(),
        calendar_token_hash: None,
        watch_terms: vec![],
        report_schedule: Default::default(),
    }
}

fn channel(team: &TeamId) -> Channel {
    Channel {
        id: ChannelId::new(),
        team_id: team.clone(),
        platform: Platform::Mastodon,
        name: ChannelName::parse("name", "@cafe@mastodon.social").unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: Some(SealedCredentials::from_stored("v1:c2VhbGVk".into())),
        queue_slots: vec![QueueSlot { weekday: chrono::Weekday::Mon, time: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap() }],
        created_at: t0(),
        updated_at: t0(),
    }
}

fn post(team: &TeamId, text: &str) -> Post {
    let mut variants = BTreeMap::new();
    variants.insert(Platform::Bluesky, PostText::parse("text", "short é ✨").unwrap());
    Post { review: None, version: 0, first_comment: None, reply_control: None,
        id: PostId::new(),
        team_id: team.clone(),
        text: PostText::parse("text", text).unwrap(),
        variants,
        media: vec![MediaRef::parse("media", "https://example.org/a.png", Some("a cat".into())).unwrap()],
        created_by: Some(ApiKeyId::new()),
        created_at: t0(),
        updated_at: t0(),
        series_id: Some(SeriesId::new()),
    }
}

fn delivery(post: &Post, state: DeliveryState, publish_at: DateTime<Utc>) -> Delivery {
    Delivery::new(post, ChannelId::new(), Platform::Sandbox, state, publish_at, t0())
}

/// Stores one post with deliveries at the given offsets (seconds from t0), all scheduled.
async fn schedule<S: Store>(s: &S, team: &TeamId, offsets: &[i64]) -> (Post, Vec<Delivery>) {
    let p = post(team, "hello");
    let ds: Vec<_> = offsets.iter().map(|o| delivery(&p, DeliveryState::Scheduled, t0() + Duration::seconds(*o))).collect();
    s.create_post(&p, &ds).await.unwrap();
    (p, ds)
}

fn interaction(team: &TeamId, channel: ChannelId, author: &str, thread: &str, at: DateTime<Utc>) -> Interaction {
    Interaction {
        id: InteractionId::new(),
        team_id: team.clone(),
        channel_id: channel,
        platform: Platform::Bluesky,
        kind: InteractionKind::Reply,
        external_id: format!("at://{}", uuid_like()),
        thread_id: thread.into(),
        parent_id: Some(thread.into()),
        author_id: author.into(),
        author_name: "Alice".into(),
        text: "Love it ✨".into(),
        created_at: at,
        received_at: at + Duration::seconds(1),
        post_url: None,
        status: InteractionStatus::Open,
        assignee: None,
        reply_ref: None,
        sentiment: None,
        tags: vec![],
        notes: vec![],
        first_response_at: None,
        raw_event_id: None,
    }
}

fn uuid_like() -> String {
    DeliveryId::new().to_string()
}

/// Reads every page of the calendar, asserting page sizes on the way.
async fn all_calendar_pages<S: Store>(s: &S, team: &TeamId, limit: u32) -> Vec<Vec<Delivery>> {
    let mut pages = vec![];
    let mut req = PageRequest::first(limit);
    loop {
        let page = s.calendar(team, t0() - Duration::days(1), t0() + Duration::days(30), &req).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        pages.push(page.items);
        match page.next {
            Some(next) => req.cursor = Some(next),
            None => return pages,
        }
    }
}

// ------------------------------------------------------------------------------------------
// The cases. Each takes a fresh, empty store.
// ------------------------------------------------------------------------------------------

async fn teams_crud<S: Store>(s: Arc<S>) {
    let a = team("alpha");
    assert_eq!(s.get_team(&a.id).await.unwrap(), None);
    s.create_team(&a).await.unwrap();
    assert_eq!(s.get_team(&a.id).await.unwrap(), Some(a.clone()));
    assert!(matches!(s.create_team(&a).await, Err(StoreError::AlreadyExists)));
    let mut more = team("beta");
    more.name = "Beta".into();
    s.create_team(&more).await.unwrap();
    let ids: Vec<String> = s.list_teams().await.unwrap().into_iter().map(|t| t.id.to_string()).collect();
    assert_eq!(ids, vec!["alpha".to_owned(), "beta".to_owned()]);
}

async fn teams_update_and_calendar_tokens<S: Store>(s: Arc<S>) {
    let (mut a, mut b) = (team("alpha"), team("beta"));
    // Updating a team that does not exist changes nothing.
    assert!(matches!(s.update_team(&a).await, Err(StoreError::NotFound)));
    assert_eq!(s.get_team(&a.id).await.unwrap(), None);
    s.create_team(&a).await.unwrap();
    s.create_team(&b).await.unwrap();

    let (h1, h2, h3) = (KeyHash::of("hcal_one"), KeyHash::of("hcal_two"), KeyHash::of("hcal_three"));
    assert_eq!(s.team_by_calendar_token(&h1).await.unwrap(), None);
    a.name = "Alpha café".into();
    a.calendar_token_hash = Some(h1.clone());
    a = s.update_team(&a).await.unwrap();
    assert_eq!(s.get_team(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.team_by_calendar_token(&h1).await.unwrap(), Some(a.clone()));

    // Rotation: the new token finds the team, the old one finds nothing.
    a.calendar_token_hash = Some(h2.clone());
    a = s.update_team(&a).await.unwrap();
    assert_eq!(s.team_by_calendar_token(&h1).await.unwrap(), None);
    assert_eq!(s.team_by_calendar_token(&h2).await.unwrap(), Some(a.clone()));

    // Another team's token finds that team only; an update that keeps the token keeps it.
    b.calendar_token_hash = Some(h3.clone());
    b = s.update_team(&b).await.unwrap();
    b.name = "Beta".into();
    b = s.update_team(&b).await.unwrap();
    assert_eq!(s.team_by_calendar_token(&h3).await.unwrap(), Some(b.clone()));
    assert_eq!(s.team_by_calendar_token(&h2).await.unwrap().map(|t| t.id), Some(a.id.clone()));

    // Removing the token disables it.
    a.calendar_token_hash = None;
    a = s.update_team(&a).await.unwrap();
    assert_eq!(s.team_by_calendar_token(&h2).await.unwrap(), None);
    assert_eq!(s.get_team(&a.id).await.unwrap(), Some(a.clone()));

    // A write from a stale read is refused and changes nothing: a watch list saved from a read
    // made before the token was rotated must not bring the old token back.
    let stale = s.get_team(&b.id).await.unwrap().expect("beta");
    let rotated = s.update_team(&Team { calendar_token_hash: Some(KeyHash::of("hcal_rotated")), ..stale.clone() }).await.unwrap();
    assert_eq!(rotated.version, stale.version + 1);
    let edited = Team { watch_terms: vec!["croissant".into()], ..stale.clone() };
    assert!(matches!(s.update_team(&edited).await, Err(StoreError::Conflict)));
    assert_eq!(s.get_team(&b.id).await.unwrap(), Some(rotated.clone()));
    assert_eq!(s.team_by_calendar_token(&h3).await.unwrap(), None, "the old token stays dead");
    assert_eq!(s.team_by_calendar_token(&KeyHash::of("hcal_rotated")).await.unwrap(), Some(rotated));

    // A team created with a token is findable by it at once.
    let mut c = team("gamma");
    c.calendar_token_hash = Some(KeyHash::of("hcal_four"));
    s.create_team(&c).await.unwrap();
    assert_eq!(s.team_by_calendar_token(&KeyHash::of("hcal_four")).await.unwrap(), Some(c));
}

async fn api_keys_crud<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let mk = |t: &TeamId, role| ApiKey {
        id: ApiKeyId::new(),
        team_id: t.clone(),
        role,
        name: "ci".into(),
        hash: ApiKeySecret::generate().hash(),
        created_at: t0(),
    };
    let (k1, k2, k3) = (mk(&a, Role::Admin), mk(&a, Role::Viewer), mk(&b, Role::Editor));
    for k in [&k1, &k2, &k3] {
        s.put_api_key(k).await.unwrap();
    }
    assert_eq!(s.api_key_by_hash(&k2.hash).await.unwrap(), Some(k2.clone()));
    assert_eq!(s.api_key_by_hash(&KeyHash::of("hrld_nope")).await.unwrap(), None);
    let mut ids: Vec<_> = s.list_api_keys(&a).await.unwrap().into_iter().map(|k| k.id).collect();
    ids.sort();
    let mut want = vec![k1.id, k2.id];
    want.sort();
    assert_eq!(ids, want);
    // Another team's key cannot be deleted through this team.
    assert!(matches!(s.delete_api_key(&b, k1.id).await, Err(StoreError::NotFound)));
    s.delete_api_key(&a, k1.id).await.unwrap();
    assert_eq!(s.api_key_by_hash(&k1.hash).await.unwrap(), None);
    assert!(matches!(s.delete_api_key(&a, k1.id).await, Err(StoreError::NotFound)));
    assert_eq!(s.list_api_keys(&b).await.unwrap(), vec![k3]);
}

async fn channels_crud<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let mut c = channel(&a);
    let other = channel(&b);
    s.create_channel(&c).await.unwrap();
    s.create_channel(&other).await.unwrap();
    assert!(matches!(s.create_channel(&c).await, Err(StoreError::AlreadyExists)));
    assert_eq!(s.get_channel(&a, c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(s.get_channel(&b, c.id).await.unwrap(), None, "a team never sees another's channel");
    assert_eq!(s.channel_by_id(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(s.list_channels(&a).await.unwrap(), vec![c.clone()]);

    c.name = ChannelName::parse("name", "renamed").unwrap();
    c.credentials = None;
    c.queue_slots.clear();
    s.update_channel(&c).await.unwrap();
    assert_eq!(s.get_channel(&a, c.id).await.unwrap(), Some(c.clone()));
    assert!(matches!(s.update_channel(&channel(&a)).await, Err(StoreError::NotFound)));

    assert!(matches!(s.delete_channel(&b, c.id).await, Err(StoreError::NotFound)));
    s.delete_channel(&a, c.id).await.unwrap();
    assert_eq!(s.get_channel(&a, c.id).await.unwrap(), None);
    assert!(s.list_channels(&a).await.unwrap().is_empty());
    assert_eq!(s.list_channels(&b).await.unwrap(), vec![other]);
}

async fn posts_and_deliveries_crud<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let (mut p, ds) = schedule(&*s, &a, &[60, 120]).await;
    assert_eq!(s.get_post(&a, p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(s.get_post(&b, p.id).await.unwrap(), None);
    let mut got = s.deliveries_of_post(&a, p.id).await.unwrap();
    got.sort_by_key(|d| d.id);
    let mut want = ds.clone();
    want.sort_by_key(|d| d.id);
    assert_eq!(got, want);
    assert!(s.deliveries_of_post(&b, p.id).await.unwrap().is_empty());
    assert_eq!(s.get_delivery(&a, p.id, ds[0].id).await.unwrap(), Some(ds[0].clone()));
    assert_eq!(s.get_delivery(&b, p.id, ds[0].id).await.unwrap(), None);

    p.text = PostText::parse("text", "edited").unwrap();
    // The first comment and Threads' reply control are kept as they are.
    p.first_comment = Some(PostText::parse("first_comment", "#croissant ✨\nsee you").unwrap());
    p.reply_control = Some(ReplyControl::ParentPostAuthorOnly);
    let stored = s.update_post(&p).await.unwrap();
    assert_eq!(stored.version, p.version + 1);
    assert_eq!(s.get_post(&a, p.id).await.unwrap(), Some(stored.clone()));
    assert!(matches!(s.update_post(&post(&a, "ghost")).await, Err(StoreError::NotFound)));
    // A write from a stale read (the version before `edited`) is refused and changes nothing;
    // another team cannot write it at all.
    p.text = PostText::parse("text", "from a stale read").unwrap();
    assert!(matches!(s.update_post(&p).await, Err(StoreError::Conflict)));
    assert!(matches!(s.update_post(&Post { team_id: b.clone(), ..stored.clone() }).await, Err(StoreError::NotFound)));
    assert_eq!(s.get_post(&a, p.id).await.unwrap(), Some(stored));
}

async fn create_post_is_all_or_nothing<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let (_, ds) = schedule(&*s, &a, &[60]).await;
    // A second post carrying a delivery that already exists must leave nothing behind.
    let p2 = post(&a, "second");
    let clash = ds[0].clone();
    let fresh = delivery(&p2, DeliveryState::Scheduled, t0());
    assert!(matches!(s.create_post(&p2, &[fresh.clone(), clash]).await, Err(StoreError::AlreadyExists)));
    assert_eq!(s.get_post(&a, p2.id).await.unwrap(), None);
    assert_eq!(s.get_delivery(&a, p2.id, fresh.id).await.unwrap(), None);
    // The same post twice is refused.
    let (p1, _) = schedule(&*s, &a, &[]).await;
    assert!(matches!(s.create_post(&p1, &[]).await, Err(StoreError::AlreadyExists)));
    // The largest post a store must take in one piece: 99 deliveries (one DynamoDB transaction).
    let big = post(&a, "big");
    let many: Vec<_> = (0..99).map(|_| delivery(&big, DeliveryState::Draft, t0())).collect();
    s.create_post(&big, &many).await.unwrap();
    assert_eq!(s.deliveries_of_post(&a, big.id).await.unwrap().len(), 99);
}

async fn delivery_updates_check_versions<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let (p, ds) = schedule(&*s, &a, &[60]).await;
    let mut d = ds[0].clone();
    d.transition(DeliveryState::Cancelled, t0()).unwrap();
    let stored = s.update_delivery(&d).await.unwrap();
    assert_eq!(stored.version, d.version + 1);
    assert_eq!(s.get_delivery(&a, p.id, d.id).await.unwrap(), Some(stored.clone()));
    // Writing from the stale copy again loses.
    assert!(matches!(s.update_delivery(&d).await, Err(StoreError::Conflict)));
    // A delivery that was never stored cannot be updated.
    let ghost = delivery(&p, DeliveryState::Scheduled, t0());
    assert!(matches!(s.update_delivery(&ghost).await, Err(StoreError::Conflict)));
}

/// A batch of delivery writes: each version-checked on its own, answered in order; a lost one
/// takes nothing from the others.
async fn delivery_batch_updates_check_each_version<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let (p, ds) = schedule(&*s, &a, &[10, 20, 30, 40]).await;
    // The second one changes under the batch: its copy in the batch is stale.
    let mut moved = ds[1].clone();
    moved.transition(DeliveryState::Cancelled, t0()).unwrap();
    s.update_delivery(&moved).await.unwrap();
    let ghost = delivery(&p, DeliveryState::Scheduled, t0());
    let lookahead = Duration::seconds(60);
    let mut batch: Vec<_> = ds.iter().map(|d| d.claimed(t0(), lookahead, Duration::seconds(90)).unwrap()).collect();
    batch.push(ghost.claimed(t0(), lookahead, Duration::seconds(90)).unwrap());
    let written = s.update_deliveries(&batch).await.unwrap();
    assert_eq!(written.len(), 5, "one answer per delivery");
    for (i, answer) in written.iter().enumerate() {
        match (i, answer) {
            (1 | 4, Err(StoreError::Conflict)) => {}
            (0 | 2 | 3, Ok(d)) => {
                assert_eq!((d.id, d.version, d.state), (batch[i].id, batch[i].version + 1, DeliveryState::Publishing));
                assert_eq!(s.get_delivery(&a, p.id, d.id).await.unwrap().as_ref(), Some(d), "stored as answered");
            }
            (i, other) => panic!("delivery {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(s.get_delivery(&a, p.id, ds[1].id).await.unwrap().unwrap().state, DeliveryState::Cancelled, "the other write stands");
    // Claimed, they left the due query (their lease is beyond it); the same batch again loses all.
    assert!(s.due_deliveries(t0() + lookahead, 100).await.unwrap().is_empty());
    let again = s.update_deliveries(&batch).await.unwrap();
    assert!(again.iter().all(|w| matches!(w, Err(StoreError::Conflict))));
    assert!(s.update_deliveries(&[]).await.unwrap().is_empty());
}

async fn calendar_range_query<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let (_, ds) = schedule(&*s, &a, &[-10, 0, 30, 3600, 7200]).await;
    schedule(&*s, &b, &[0, 30]).await;
    // [t0, t0 + 1h): includes the one at exactly t0, excludes the one at exactly t0 + 1h.
    let page = s.calendar(&a, t0(), t0() + Duration::hours(1), &PageRequest::first(100)).await.unwrap();
    let got: Vec<_> = page.items.iter().map(|d| d.id).collect();
    assert_eq!(got, vec![ds[1].id, ds[2].id]);
    assert_eq!(page.next, None);
    let all = s.calendar(&a, t0() - Duration::days(1), t0() + Duration::days(1), &PageRequest::first(100)).await.unwrap();
    let times: Vec<_> = all.items.iter().map(|d| d.publish_at).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "the calendar is in publish order");
    assert_eq!(all.items.len(), 5, "and holds only this team's deliveries");
}

async fn calendar_paginates_past_one_page<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    // 120 deliveries, some sharing the same second, so the cursor must break ties by id.
    let offsets: Vec<i64> = (0..120).map(|i| (i / 2) * 60).collect();
    for chunk in offsets.chunks(20) {
        schedule(&*s, &a, chunk).await;
    }
    let pages = all_calendar_pages(&*s, &a, 50).await;
    let sizes: Vec<_> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 120);
    assert!(sizes.len() >= 3, "120 items in pages of 50 take at least 3 pages: {sizes:?}");
    let flat: Vec<_> = pages.into_iter().flatten().collect();
    let unique: HashSet<_> = flat.iter().map(|d| d.id).collect();
    assert_eq!(unique.len(), 120, "no item is repeated or lost across pages");
    assert!(flat.windows(2).all(|w| w[0].publish_at <= w[1].publish_at));
    let bad = PageRequest { limit: 10, cursor: Some("not-a-cursor".into()) };
    assert!(matches!(
        s.calendar(&a, t0(), t0() + Duration::days(1), &bad).await,
        Err(StoreError::InvalidCursor)
    ));
}

async fn due_deliveries_across_teams_with_lookahead<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let now = t0();
    let lookahead = Duration::seconds(60);
    let (_, da) = schedule(&*s, &a, &[10, 90]).await; // 10 s: due; 90 s: beyond the lookahead
    let (_, db) = schedule(&*s, &b, &[50, -30]).await; // both due, -30 is overdue
    // Not scheduled: a draft at now, a published one, a cancelled one.
    let p = post(&b, "other states");
    let draft = delivery(&p, DeliveryState::Draft, now);
    let mut published = delivery(&p, DeliveryState::Publishing, now - Duration::seconds(5));
    published.state = DeliveryState::Published;
    let mut cancelled = delivery(&p, DeliveryState::Scheduled, now);
    cancelled.state = DeliveryState::Cancelled;
    // Publishing with an expired lease is due again (to be reconciled); with a live lease, not.
    let mut expired = delivery(&p, DeliveryState::Publishing, now - Duration::seconds(120));
    expired.lease_until = Some(now - Duration::seconds(1));
    let mut leased = delivery(&p, DeliveryState::Publishing, now - Duration::seconds(120));
    leased.lease_until = Some(now + Duration::seconds(300));
    s.create_post(&p, &[draft, published, cancelled, expired.clone(), leased]).await.unwrap();

    let due = s.due_deliveries(now + lookahead, 100).await.unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.id).collect();
    assert_eq!(ids, vec![db[1].id, expired.id, da[0].id, db[0].id], "earliest due first, both teams");
    assert!(!ids.contains(&da[1].id));
    let limited = s.due_deliveries(now + lookahead, 2).await.unwrap();
    assert_eq!(limited.iter().map(|d| d.id).collect::<Vec<_>>(), vec![db[1].id, expired.id]);

    // Once published, a delivery leaves the due index.
    let claimed = s.update_delivery(&da[0].claimed(now, lookahead, Duration::seconds(30)).unwrap()).await.unwrap();
    let mut done = claimed.clone();
    done.transition(DeliveryState::Published, now).unwrap();
    s.update_delivery(&done).await.unwrap();
    let due = s.due_deliveries(now + lookahead, 100).await.unwrap();
    assert!(!due.iter().any(|d| d.id == da[0].id));
    // At the due instant exactly, it is due.
    assert_eq!(s.due_deliveries(t0() - Duration::seconds(30), 10).await.unwrap().len(), 1);
}

/// Deliveries scheduled for the year 10000 (chrono reads it; the API now refuses it) must not
/// take the due queue's first places: with a `+10000-…` key they sorted before `2027-…` and the
/// publisher spent its whole batch on work it could not claim, every run, for every team.
async fn far_future_deliveries_never_crowd_out_due_ones<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let far = Utc.with_ymd_and_hms(10000, 1, 4, 9, 0, 0).single().expect("chrono reads the year 10000");
    let mut last = None;
    for _ in 0..24 {
        let q = post(&a, "far future");
        let chunk: Vec<_> = (0..25).map(|_| delivery(&q, DeliveryState::Scheduled, far)).collect();
        s.create_post(&q, &chunk).await.unwrap();
        last = Some(q.id);
    }
    let (_, due_now) = schedule(&*s, &a, &[0]).await;
    let due = s.due_deliveries(t0() + Duration::seconds(60), 500).await.unwrap();
    assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), vec![due_now[0].id], "only the one due now");
    // The far ones keep their real time.
    let kept = s.deliveries_of_post(&a, last.expect("600 stored")).await.unwrap();
    assert_eq!(kept.len(), 25);
    assert!(kept.iter().all(|d| d.publish_at == far));
}

async fn claim_race<S: Store + 'static>(s: Arc<S>, claimers: usize) {
    let a = team("alpha").id;
    let (_, ds) = schedule(&*s, &a, &[0]).await;
    let found = s.due_deliveries(t0() + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(found.len(), 1);
    let barrier = Arc::new(tokio::sync::Barrier::new(claimers));
    let tasks: Vec<_> = (0..claimers)
        .map(|_| {
            let (s, seen, barrier) = (Arc::clone(&s), found[0].clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let mine = seen.claimed(t0(), Duration::seconds(60), Duration::seconds(30)).unwrap();
                barrier.wait().await;
                s.update_delivery(&mine).await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(d) => {
                wins += 1;
                assert_eq!(d.state, DeliveryState::Publishing);
            }
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("a losing claimer must see Conflict, got {e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one of {claimers} claimers wins");
    let stored = s.get_delivery(&a, ds[0].post_id, ds[0].id).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.attempts, stored.version), (DeliveryState::Publishing, 1, 1));
}

async fn interactions_inbox_thread_and_author<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let ch = ChannelId::new();
    let mut items = vec![];
    for i in 0..7 {
        let author = if i % 2 == 0 { "did:plc:alice" } else { "did:plc:bob" };
        let thread = if i < 4 { "thread-1" } else { "thread-2" };
        let it = interaction(&a, ch, author, thread, t0() + Duration::minutes(i));
        s.create_interaction(&it).await.unwrap();
        items.push(it);
    }
    s.create_interaction(&interaction(&b, ch, "did:plc:alice", "thread-1", t0())).await.unwrap();
    assert!(matches!(s.create_interaction(&items[0]).await, Err(StoreError::AlreadyExists)));
    assert_eq!(s.get_interaction(&a, items[0].id).await.unwrap(), Some(items[0].clone()));
    assert_eq!(s.get_interaction(&b, items[0].id).await.unwrap(), None);

    let open = InboxQuery::status(InteractionStatus::Open);
    let page = s.inbox(&a, &open, &PageRequest::first(3)).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![items[6].id, items[5].id, items[4].id]);
    let page2 = s.inbox(&a, &open, &PageRequest { limit: 3, cursor: page.next.clone() }).await.unwrap();
    assert_eq!(page2.items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![items[3].id, items[2].id, items[1].id]);
    let page3 = s.inbox(&a, &open, &PageRequest { limit: 3, cursor: page2.next.clone() }).await.unwrap();
    assert_eq!(page3.items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![items[0].id]);
    assert_eq!(page3.next, None);

    // A time window: [t0+2m, t0+4m).
    let window = InboxQuery { from: Some(t0() + Duration::minutes(2)), to: Some(t0() + Duration::minutes(4)), ..InboxQuery::status(InteractionStatus::Open) };
    let got = s.inbox(&a, &window, &PageRequest::first(50)).await.unwrap();
    assert_eq!(got.items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![items[3].id, items[2].id]);

    // Closing one moves it between status listings.
    let mut closed = items[6].clone();
    closed.status = InteractionStatus::Closed;
    closed.assignee = Some("marie".into());
    s.update_interaction(&closed).await.unwrap();
    let open_now = s.inbox(&a, &open, &PageRequest::first(50)).await.unwrap();
    assert_eq!(open_now.items.len(), 6);
    let closed_q = InboxQuery::status(InteractionStatus::Closed);
    assert_eq!(s.inbox(&a, &closed_q, &PageRequest::first(50)).await.unwrap().items, vec![closed.clone()]);
    assert!(matches!(
        s.update_interaction(&interaction(&a, ch, "x", "t", t0())).await,
        Err(StoreError::NotFound)
    ));

    let thread = s.thread(&a, ch, "thread-1").await.unwrap();
    assert_eq!(thread.iter().map(|i| i.id).collect::<Vec<_>>(), items[..4].iter().map(|i| i.id).collect::<Vec<_>>());

    let alice = s.by_author(&a, Platform::Bluesky, "did:plc:alice", &PageRequest::first(50)).await.unwrap();
    assert_eq!(alice.items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![items[6].id, items[4].id, items[2].id, items[0].id]);
    assert!(s.by_author(&a, Platform::Mastodon, "did:plc:alice", &PageRequest::first(50)).await.unwrap().items.is_empty());
}

/// Filters beyond status and time: a page holds at most `limit` matches, pages cover every
/// match once, and `next: None` is the end. Deleting an interaction.
async fn inbox_filters_page_and_delete<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let (ch1, ch2) = (ChannelId::new(), ChannelId::new());
    let mut made = vec![];
    for i in 0..12 {
        let mut it = interaction(&a, if i % 3 == 0 { ch2 } else { ch1 }, &format!("u{i}"), "t", t0() + Duration::minutes(i));
        it.kind = if i % 4 == 0 { InteractionKind::DirectMessage } else { InteractionKind::Comment };
        it.text = if i % 2 == 0 { format!("Le café est FROID {i}") } else { format!("merci {i}") };
        let label = if i % 2 == 0 { SentimentLabel::Negative } else { SentimentLabel::Positive };
        it.sentiment = Some(Sentiment { score: if i % 2 == 0 { -0.6 } else { 0.7 }, label, language: "fr".into() });
        if i == 5 {
            it.tags = vec!["Starbucks".into()];
        }
        it.assignee = match i {
            7 | 10 => Some("Léa".into()),
            8 => Some("Sam".into()),
            _ => None,
        };
        s.create_interaction(&it).await.unwrap();
        made.push(it);
    }
    async fn all<S: Store>(s: &S, team: &TeamId, q: &InboxQuery, limit: u32) -> Vec<InteractionId> {
        let (mut ids, mut page) = (vec![], PageRequest::first(limit));
        for _ in 0..50 {
            let got = s.inbox(team, q, &page).await.unwrap();
            assert!(got.items.len() <= limit as usize);
            ids.extend(got.items.iter().map(|i| i.id));
            match got.next {
                Some(n) => page.cursor = Some(n),
                None => return ids,
            }
        }
        panic!("the listing did not end");
    }
    let base = InboxQuery::status(InteractionStatus::Open);
    let newest_first = |pred: &dyn Fn(&Interaction) -> bool| -> Vec<InteractionId> {
        made.iter().rev().filter(|i| pred(i)).map(|i| i.id).collect()
    };
    let q = InboxQuery { channel: Some(ch2), ..base.clone() };
    assert_eq!(all(&*s, &a, &q, 2).await, newest_first(&|i| i.channel_id == ch2));
    let q = InboxQuery { kind: Some(InteractionKind::DirectMessage), ..base.clone() };
    assert_eq!(all(&*s, &a, &q, 1).await, newest_first(&|i| i.kind == InteractionKind::DirectMessage));
    let q = InboxQuery { sentiment: Some(SentimentLabel::Negative), text: Some("froid".into()), ..base.clone() };
    assert_eq!(all(&*s, &a, &q, 4).await, newest_first(&|i| i.text.contains("FROID")));
    let q = InboxQuery { tag: Some("Starbucks".into()), ..base.clone() };
    assert_eq!(all(&*s, &a, &q, 50).await, vec![made[5].id]);
    let q = InboxQuery { text: Some("nothing like this".into()), ..base.clone() };
    assert!(all(&*s, &a, &q, 3).await.is_empty());
    let q = InboxQuery { assignee: Some("LÉA".into()), ..base.clone() };
    assert_eq!(all(&*s, &a, &q, 1).await, vec![made[10].id, made[7].id], "whose, in any case");

    s.delete_interaction(&a, made[5].id).await.unwrap();
    assert_eq!(s.get_interaction(&a, made[5].id).await.unwrap(), None);
    assert!(matches!(s.delete_interaction(&a, made[5].id).await, Err(StoreError::NotFound)));
    assert!(matches!(s.delete_interaction(&team("beta").id, made[4].id).await, Err(StoreError::NotFound)), "another team's");
    assert!(s.get_interaction(&a, made[4].id).await.unwrap().is_some());
}

async fn raw_events_by_channel_and_delete<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let (ch, other) = (ChannelId::new(), ChannelId::new());
    let raw = |channel: ChannelId, minute: i64| RawEvent {
        id: RawEventId::new(),
        team_id: a.clone(),
        channel_id: channel,
        platform: Platform::Generic,
        received_at: t0() + Duration::minutes(minute),
        body: "eyJhIjoxfQ==".into(),
        expires_at: t0() + Duration::days(14),
    };
    let mine: Vec<RawEvent> = (0..5).map(|m| raw(ch, m)).collect();
    for r in &mine {
        s.put_raw_event(r).await.unwrap();
    }
    s.put_raw_event(&raw(other, 1)).await.unwrap();
    s.put_raw_event(&mine[0]).await.unwrap(); // a redelivered body overwrites itself
    assert_eq!(s.get_raw_event(mine[2].id).await.unwrap(), Some(mine[2].clone()));

    let first = s.raw_events(ch, t0(), t0() + Duration::minutes(4), &PageRequest::first(2)).await.unwrap();
    assert_eq!(first.items, mine[..2].to_vec());
    let second = s.raw_events(ch, t0(), t0() + Duration::minutes(4), &PageRequest { limit: 2, cursor: first.next }).await.unwrap();
    assert_eq!(second.items, mine[2..4].to_vec(), "oldest first; `to` excluded");
    assert_eq!(second.next, None);

    s.delete_raw_event(mine[1].id).await.unwrap();
    s.delete_raw_event(mine[1].id).await.unwrap(); // already gone: fine
    assert_eq!(s.get_raw_event(mine[1].id).await.unwrap(), None);
    let left = s.raw_events(ch, t0(), t0() + Duration::hours(1), &PageRequest::first(50)).await.unwrap();
    assert_eq!(left.items.len(), 4);
}

async fn versioned_state_admits_one_writer<S: Store + 'static>(s: Arc<S>) {
    assert_eq!(s.get_state("crisis#c1").await.unwrap(), None);
    assert_eq!(s.put_state("crisis#c1", "one", None).await.unwrap(), 1);
    assert!(matches!(s.put_state("crisis#c1", "again", None).await, Err(StoreError::Conflict)), "exists already");
    assert_eq!(s.put_state("crisis#c1", "two", Some(1)).await.unwrap(), 2);
    assert!(matches!(s.put_state("crisis#c1", "stale", Some(1)).await, Err(StoreError::Conflict)));
    assert_eq!(s.get_state("crisis#c1").await.unwrap(), Some(Versioned { value: "two".into(), version: 2 }));
    assert_eq!(s.get_state("poll#c1").await.unwrap(), None, "keys are separate");

    // Ten writers read version 2 and race: exactly one wins.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let s = s.clone();
        tasks.spawn(async move { s.put_state("crisis#c1", &format!("w{i}"), Some(2)).await.is_ok() });
    }
    let mut wins = 0;
    while let Some(won) = tasks.join_next().await {
        wins += usize::from(won.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(s.get_state("crisis#c1").await.unwrap().unwrap().version, 3);

    // A value the store may drop after a time is versioned the same way.
    let until = t0() + Duration::days(1);
    assert_eq!(s.put_state_until("oauth#c1", "pending", None, until).await.unwrap(), 1);
    assert!(matches!(s.put_state_until("oauth#c1", "again", None, until).await, Err(StoreError::Conflict)));
    assert_eq!(s.put_state_until("oauth#c1", "finished", Some(1), until).await.unwrap(), 2);
    assert_eq!(s.get_state("oauth#c1").await.unwrap(), Some(Versioned { value: "finished".into(), version: 2 }));
}

async fn incidents_and_channels_by_platform<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let incident = |team: &TeamId, hour: i64| Incident {
        id: IncidentId::new(),
        team_id: team.clone(),
        channel_id: ChannelId::new(),
        opened_at: t0() + Duration::hours(hour),
        closed_at: None,
        negatives_in_window: 14,
        expected: 0.8,
    };
    let (i1, mut i2) = (incident(&a, 1), incident(&a, 2));
    s.put_incident(&i1).await.unwrap();
    s.put_incident(&i2).await.unwrap();
    s.put_incident(&incident(&b, 3)).await.unwrap();
    i2.closed_at = Some(t0() + Duration::hours(4));
    s.put_incident(&i2).await.unwrap();
    let got = s.list_incidents(&a, &PageRequest::first(50)).await.unwrap();
    assert_eq!(got.items, vec![i2.clone(), i1.clone()], "newest first, updated in place");

    let mut m = channel(&a);
    m.platform = Platform::Mastodon;
    let mut m2 = channel(&b);
    m2.platform = Platform::Mastodon;
    let mut sandbox = channel(&a);
    sandbox.platform = Platform::Sandbox;
    for c in [&m, &m2, &sandbox] {
        s.create_channel(c).await.unwrap();
    }
    let mut on = s.channels_on(Platform::Mastodon).await.unwrap().into_iter().map(|c| c.id).collect::<Vec<_>>();
    on.sort();
    let mut want = vec![m.id, m2.id];
    want.sort();
    assert_eq!(on, want, "across teams, that platform only");
    assert!(s.channels_on(Platform::Bluesky).await.unwrap().is_empty());
}

async fn metric_snapshots_by_subject_and_time<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let ch = ChannelId::new();
    let post_subject = MetricSubject::Delivery { channel_id: ch, delivery_id: DeliveryId::new() };
    let chan_subject = MetricSubject::Channel { channel_id: ch };
    for h in 0..5 {
        let counters = MetricCounters { likes: Some(h as u64), impressions: None, ..Default::default() };
        s.put_snapshot(&MetricSnapshot {
            team_id: a.clone(),
            subject: post_subject,
            taken_at: t0() + Duration::hours(h),
            counters,
            expires_at: Some(t0() + Duration::days(90)),
        })
        .await
        .unwrap();
    }
    s.put_snapshot(&MetricSnapshot {
        team_id: a.clone(),
        subject: chan_subject,
        taken_at: t0(),
        counters: MetricCounters { followers: Some(1234), ..Default::default() },
        expires_at: None,
    })
    .await
    .unwrap();
    let got = s.snapshots(&a, &post_subject, t0() + Duration::hours(1), t0() + Duration::hours(4)).await.unwrap();
    assert_eq!(got.iter().map(|m| m.counters.likes).collect::<Vec<_>>(), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(got[0].counters.impressions, None, "a missing counter stays missing, not 0");
    let followers = s.snapshots(&a, &chan_subject, t0(), t0() + Duration::days(1)).await.unwrap();
    assert_eq!(followers.len(), 1);
    assert_eq!(followers[0].counters.followers, Some(1234));
    assert!(s.snapshots(&team("beta").id, &post_subject, t0(), t0() + Duration::days(1)).await.unwrap().is_empty());
}

async fn metric_rollups_keep_the_days_latest_and_read_by_day_range<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let ch = ChannelId::new();
    let post = MetricSubject::Delivery { channel_id: ch, delivery_id: DeliveryId::new() };
    let chan = MetricSubject::Channel { channel_id: ch };
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let rollup = |team: &TeamId, subject, d: &str, hours: i64, likes: u64| MetricRollup {
        team_id: team.clone(),
        subject,
        day: day(d),
        taken_at: t0() + Duration::hours(hours),
        counters: MetricCounters { likes: Some(likes), impressions: None, ..Default::default() },
    };
    // The day's later snapshot wins, whichever arrives first.
    s.put_rollup(&rollup(&a, post, "2027-01-31", 5, 50)).await.unwrap();
    s.put_rollup(&rollup(&a, post, "2027-01-31", 2, 20)).await.unwrap();
    s.put_rollup(&rollup(&a, post, "2027-01-30", 1, 10)).await.unwrap();
    s.put_rollup(&rollup(&a, chan, "2027-01-31", 1, 7)).await.unwrap();
    s.put_rollup(&rollup(&a, post, "2027-02-01", 9, 90)).await.unwrap();
    s.put_rollup(&rollup(&a, post, "2027-03-01", 9, 99)).await.unwrap();
    s.put_rollup(&rollup(&b, post, "2027-01-31", 9, 1)).await.unwrap();

    // [30 Jan, 2 Feb): across a month boundary, by day then subject key ("C#…" before "D#…").
    let got = s.rollups(&a, day("2027-01-30"), day("2027-02-02")).await.unwrap();
    let seen: Vec<(String, Option<u64>)> = got.iter().map(|r| (r.day.to_string(), r.counters.likes)).collect();
    assert_eq!(
        seen,
        vec![
            ("2027-01-30".into(), Some(10)),
            ("2027-01-31".into(), Some(7)),
            ("2027-01-31".into(), Some(50)),
            ("2027-02-01".into(), Some(90)),
        ]
    );
    assert_eq!(got[2].taken_at, t0() + Duration::hours(5));
    assert_eq!(got[2].counters.impressions, None, "a missing counter stays missing");
    assert_eq!(got[1].subject, chan);
    // `to` is excluded; an empty or reversed range is empty; other teams see nothing.
    assert_eq!(s.rollups(&a, day("2027-02-01"), day("2027-03-01")).await.unwrap().len(), 1);
    assert!(s.rollups(&a, day("2027-02-02"), day("2027-02-02")).await.unwrap().is_empty());
    assert_eq!(s.rollups(&b, day("2027-01-01"), day("2027-12-31")).await.unwrap().len(), 1);
    assert_eq!(s.rollups(&a, day("2026-12-01"), day("2027-12-31")).await.unwrap().len(), 5);
}

async fn erased_events_are_remembered_by_fingerprint_and_replaced<S: Store>(s: Arc<S>) {
    let ch = ChannelId::new();
    let first = ErasedEvent::new(ch, "1234567890_9876543210", t0(), Duration::days(14));
    assert_eq!(s.erased_event(&first.fingerprint).await.unwrap(), None);
    s.put_erased_event(&first).await.unwrap();
    assert_eq!(s.erased_event(&first.fingerprint).await.unwrap(), Some(first.clone()));
    // The same platform id on another channel is another event.
    let elsewhere = ErasedEvent::fingerprint(ChannelId::new(), "1234567890_9876543210");
    assert_eq!(s.erased_event(&elsewhere).await.unwrap(), None);
    // Erased again (the platform re-sent it after its expiry, then another erasure): replaced.
    let again = ErasedEvent::new(ch, "1234567890_9876543210", t0() + Duration::days(20), Duration::days(14));
    s.put_erased_event(&again).await.unwrap();
    assert_eq!(s.erased_event(&again.fingerprint).await.unwrap(), Some(again.clone()));
    // Neither store filters by time: past its expiry on the caller's clock it is still read,
    // and no longer blocks. (Its TTL lies in the future of the wall clock, so DynamoDB keeps it.)
    let later = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap();
    let short = ErasedEvent::new(ch, "1234567890_1", later, Duration::hours(1));
    s.put_erased_event(&short).await.unwrap();
    let got = s.erased_event(&short.fingerprint).await.unwrap().expect("an expired one is still read");
    assert!(got.blocks(later + Duration::minutes(59)));
    assert!(!got.blocks(later + Duration::hours(1)));
}

async fn reports_crud_and_listing<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let mut made = vec![];
    for w in 0..3 {
        let r = Report {
            id: ReportId::new(),
            team_id: a.clone(),
            period_start: chrono::NaiveDate::from_ymd_opt(2027, 1, 4 + 7 * w).unwrap(),
            period_end: chrono::NaiveDate::from_ymd_opt(2027, 1, 10 + 7 * w).unwrap(),
            created_at: t0() + Duration::days(7 * i64::from(w)),
            files: [(ReportFormat::Html, format!("reports/{w}/report.html"))].into_iter().collect(),
        };
        s.put_report(&r).await.unwrap();
        made.push(r);
    }
    assert_eq!(s.get_report(&a, made[1].id).await.unwrap(), Some(made[1].clone()));
    assert_eq!(s.get_report(&b, made[1].id).await.unwrap(), None);
    let first = s.list_reports(&a, &PageRequest::first(2)).await.unwrap();
    assert_eq!(first.items, vec![made[2].clone(), made[1].clone()], "newest first");
    let rest = s.list_reports(&a, &PageRequest { limit: 2, cursor: first.next }).await.unwrap();
    assert_eq!(rest.items, vec![made[0].clone()]);
    assert_eq!(rest.next, None);
    assert!(s.list_reports(&b, &PageRequest::first(10)).await.unwrap().items.is_empty());
}

fn member(team: &TeamId, email: &str, role: Role) -> Member {
    Member {
        id: MemberId::new(),
        team_id: team.clone(),
        email: Email::parse("email", email).unwrap(),
        name: "Marie".into(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: t0(),
    }
}

fn session(m: &Member, created_at: DateTime<Utc>) -> (Session, Secret) {
    let id = Secret::generate("hses_");
    let x = Session {
        hash: id.hash(),
        member_id: m.id,
        team_id: m.team_id.clone(),
        email: m.email.clone(),
        csrf_token: "csrf".into(),
        created_at,
        expires_at: created_at + SESSION_LIFETIME,
    };
    (x, id)
}

/// Members: one per e-mail on the whole deployment, listed per team, updated, removed with
/// their sessions.
async fn members_are_unique_by_email_and_take_their_sessions_along<S: Store>(s: Arc<S>) {
    let (a, b) = (team("alpha").id, team("beta").id);
    let (m1, m2, m3) = (member(&a, "marie@example.com", Role::Admin), member(&a, "paul@example.com", Role::Viewer), member(&b, "zoe@example.com", Role::Editor));
    for m in [&m1, &m2, &m3] {
        s.create_member(m).await.unwrap();
    }
    // The same e-mail in another team is still taken.
    assert!(matches!(s.create_member(&member(&b, "Marie@Example.com", Role::Viewer)).await, Err(StoreError::AlreadyExists)));
    assert_eq!(s.member_by_email(&m2.email).await.unwrap(), Some(m2.clone()));
    assert_eq!(s.member_by_email(&Email::parse("email", "nobody@example.com").unwrap()).await.unwrap(), None);
    assert_eq!(s.get_member(&a, m1.id).await.unwrap(), Some(m1.clone()));
    assert_eq!(s.get_member(&b, m1.id).await.unwrap(), None, "another team's member");
    let mut want = vec![m1.clone(), m2.clone()];
    want.sort_by_key(|m| m.id);
    assert_eq!(s.list_members(&a).await.unwrap(), want);

    let changed = Member { password_hash: "$argon2id$new".into(), ..m2.clone() };
    s.update_member(&changed).await.unwrap();
    assert_eq!(s.member_by_email(&m2.email).await.unwrap(), Some(changed));
    assert!(matches!(s.update_member(&member(&a, "ghost@example.com", Role::Viewer)).await, Err(StoreError::NotFound)));

    let (x1, _) = session(&m2, t0());
    let (x2, _) = session(&m2, t0());
    let (other, _) = session(&m1, t0());
    for x in [&x1, &x2, &other] {
        s.put_session(x).await.unwrap();
    }
    assert_eq!(s.session_by_hash(&x1.hash).await.unwrap(), Some(x1.clone()));
    assert!(matches!(s.delete_member(&b, m2.id).await, Err(StoreError::NotFound)), "through another team");
    s.delete_member(&a, m2.id).await.unwrap();
    assert_eq!(s.member_by_email(&m2.email).await.unwrap(), None);
    assert_eq!(s.session_by_hash(&x1.hash).await.unwrap(), None);
    assert_eq!(s.session_by_hash(&x2.hash).await.unwrap(), None);
    assert_eq!(s.session_by_hash(&other.hash).await.unwrap(), Some(other), "another member's session stays");
    assert!(matches!(s.delete_member(&a, m2.id).await, Err(StoreError::NotFound)));
    // The e-mail is free again.
    s.create_member(&member(&b, "paul@example.com", Role::Viewer)).await.unwrap();
}

/// Sessions: found by hash, ended one by one or all of a member's at once.
async fn sessions_end_one_or_all<S: Store>(s: Arc<S>) {
    let a = team("alpha").id;
    let (m1, m2) = (member(&a, "marie@example.com", Role::Admin), member(&a, "paul@example.com", Role::Viewer));
    let (x1, id1) = session(&m1, t0());
    let (x2, _) = session(&m1, t0());
    let (y, _) = session(&m2, t0());
    for x in [&x1, &x2, &y] {
        s.put_session(x).await.unwrap();
    }
    assert_eq!(s.session_by_hash(&KeyHash::of(id1.reveal())).await.unwrap(), Some(x1.clone()));
    s.delete_session(&x1.hash).await.unwrap();
    s.delete_session(&x1.hash).await.unwrap();
    assert_eq!(s.session_by_hash(&x1.hash).await.unwrap(), None);
    let (x3, _) = session(&m1, t0());
    s.put_session(&x3).await.unwrap();
    assert_eq!(s.delete_sessions_of(m1.id).await.unwrap(), 2);
    assert_eq!(s.session_by_hash(&x2.hash).await.unwrap(), None);
    assert_eq!(s.session_by_hash(&x3.hash).await.unwrap(), None);
    assert_eq!(s.session_by_hash(&y.hash).await.unwrap(), Some(y));
}

/// One-time links: used once, never after they lapse, and of concurrent takers exactly one wins.
async fn one_time_links_are_taken_once_and_lapse<S: Store + 'static>(s: Arc<S>) {
    let a = team("alpha").id;
    let link = |lifetime: Duration| {
        let token = Secret::generate("hinv_");
        let l = OneTimeToken {
            id: LinkId::new(),
            hash: token.hash(),
            team_id: a.clone(),
            purpose: TokenPurpose::Invite { email: Some(Email::parse("email", "marie@example.com").unwrap()), role: Role::Editor },
            created_at: t0(),
            expires_at: t0() + lifetime,
        };
        (l, token)
    };
    let (live, token) = link(INVITE_LIFETIME);
    s.put_link(&live).await.unwrap();
    assert_eq!(s.link_by_hash(&KeyHash::of(token.reveal())).await.unwrap(), Some(live.clone()));
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (s, hash) = (Arc::clone(&s), live.hash.clone());
            tokio::spawn(async move { s.take_link(&hash, t0() + Duration::hours(1)).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        if let Some(got) = r.await.unwrap() {
            assert_eq!(got, live);
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one taker uses the link");
    assert_eq!(s.link_by_hash(&live.hash).await.unwrap(), None);

    let (reset, _) = link(RESET_LIFETIME);
    let reset = OneTimeToken { purpose: TokenPurpose::Reset { member_id: MemberId::new() }, ..reset };
    s.put_link(&reset).await.unwrap();
    assert_eq!(s.take_link(&reset.hash, reset.expires_at).await.unwrap(), None, "lapsed at its expiry");
    assert_eq!(s.take_link(&reset.hash, reset.expires_at + Duration::days(1)).await.unwrap(), None);
    assert_eq!(s.link_by_hash(&reset.hash).await.unwrap(), Some(reset.clone()), "a lapsed link is not used up");
    assert_eq!(s.take_link(&reset.hash, reset.expires_at - Duration::seconds(2)).await.unwrap(), Some(reset));
}

/// The throttle's counters: conditional increments that stop at the limit, even when many
/// attempts race, and give back what a success took.
async fn attempts_stop_at_the_limit_across_racers<S: Store + 'static>(s: Arc<S>) {
    let ends = t0() + Duration::minutes(15);
    let racers: Vec<_> = (0..12)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.take_attempt("signin:email:marie@example.com:1", 5, ends).await.unwrap() })
        })
        .collect();
    let mut taken = 0;
    for r in racers {
        taken += usize::from(r.await.unwrap());
    }
    assert_eq!(taken, 5, "at most 5 counted, however many raced");
    assert!(!s.take_attempt("signin:email:marie@example.com:1", 5, ends).await.unwrap());
    s.give_back_attempt("signin:email:marie@example.com:1").await.unwrap();
    assert!(s.take_attempt("signin:email:marie@example.com:1", 5, ends).await.unwrap(), "one given back, one more allowed");
    assert!(!s.take_attempt("signin:email:marie@example.com:1", 5, ends).await.unwrap());
    // Another key (the next window, another e-mail) counts apart; giving back never goes below 0.
    assert!(s.take_attempt("signin:email:marie@example.com:2", 5, ends).await.unwrap());
    for _ in 0..3 {
        s.give_back_attempt("signin:address:10.0.0.1:1").await.unwrap();
    }
    for _ in 0..2 {
        assert!(s.take_attempt("signin:address:10.0.0.1:1", 2, ends).await.unwrap());
    }
    assert!(!s.take_attempt("signin:address:10.0.0.1:1", 2, ends).await.unwrap());
}

/// Bucket counters: adds from many writers at once all count (no lost update, no version to
/// race for), a read sums a bucket whatever it was spread over, and returns only the buckets
/// asked for, in order, of that series alone.
async fn bucket_counters_count_every_concurrent_add<S: Store + 'static>(s: Arc<S>) {
    let keep = t0() + Duration::days(2);
    let writers: Vec<_> = (0..40u64)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for k in 0..5u64 {
                    let add = BucketCounts { interactions: 1, negatives: u64::from((i + k) % 3 == 0) };
                    s.add_to_bucket("crisis#c1#300", 5_000_000 + (k % 2) as i64, add, keep).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    s.add_to_bucket("crisis#c1#300", 4_999_990, BucketCounts { interactions: 7, negatives: 2 }, keep).await.unwrap();
    s.add_to_bucket("crisis#c1#300", -3, BucketCounts { interactions: 1, negatives: 1 }, keep).await.unwrap();
    s.add_to_bucket("crisis#c2#300", 5_000_000, BucketCounts { interactions: 100, negatives: 100 }, keep).await.unwrap();

    // 40 writers × 5 adds: 120 in the even bucket (k = 0, 2, 4), 80 in the odd one.
    let negatives = |parity: u64| (0..40u64).flat_map(|i| (0..5u64).map(move |k| (i, k))).filter(|(i, k)| k % 2 == parity && (i + k) % 3 == 0).count() as u64;
    let got = s.buckets("crisis#c1#300", 4_999_995, 5_000_001).await.unwrap();
    assert_eq!(
        got,
        vec![
            (5_000_000, BucketCounts { interactions: 120, negatives: negatives(0) }),
            (5_000_001, BucketCounts { interactions: 80, negatives: negatives(1) }),
        ]
    );
    assert_eq!(
        s.buckets("crisis#c1#300", -10, 4_999_990).await.unwrap(),
        vec![(-3, BucketCounts { interactions: 1, negatives: 1 }), (4_999_990, BucketCounts { interactions: 7, negatives: 2 })],
        "negative bucket indexes sort before positive ones; both ends are inclusive"
    );
    assert_eq!(s.buckets("crisis#c1#300", 5_000_002, 6_000_000).await.unwrap(), vec![]);
    assert_eq!(s.buckets("crisis#c1#300", 5_000_001, 5_000_000).await.unwrap(), vec![], "an empty range");
    assert_eq!(s.buckets("crisis#c3#300", 0, i64::MAX).await.unwrap(), vec![], "another series is apart");
}

/// Many writes at once, some of them refused: each refused one fails alone, every accepted one
/// is kept and readable as soon as its caller has its answer (SQLite commits writes that queue
/// together in one transaction; this is what that must not change).
async fn concurrent_writes_fail_alone_and_are_readable_once_answered<S: Store + 'static>(s: Arc<S>) {
    let writers: Vec<_> = (0..120u32)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let key = format!("poll#k{}", i % 60);
                let written = s.put_state(&key, &format!("v{i}"), None).await;
                if written.is_ok() {
                    let read = s.get_state(&key).await.unwrap().expect("readable once answered");
                    assert_eq!(read.value, format!("v{i}"));
                }
                written.map(|_| i)
            })
        })
        .collect();
    let (mut kept, mut refused) = (Vec::new(), 0);
    for w in writers {
        match w.await.unwrap() {
            Ok(i) => kept.push(i),
            Err(StoreError::AlreadyExists | StoreError::Conflict) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((kept.len(), refused), (60, 60), "one writer per key wins");
    for i in kept {
        let stored = s.get_state(&format!("poll#k{}", i % 60)).await.unwrap().unwrap();
        assert_eq!((stored.value, stored.version), (format!("v{i}"), 1));
    }
}

/// Generates one `#[tokio::test]` per contract case for a store factory.
macro_rules! contract_suite {
    ($store:ident, $make:expr) => {
        mod $store {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        super::$name(Arc::new($make.await)).await;
                    }
                };
            }

            case!(teams_crud);
            case!(teams_update_and_calendar_tokens);
            case!(api_keys_crud);
            case!(channels_crud);
            case!(posts_and_deliveries_crud);
            case!(create_post_is_all_or_nothing);
            case!(delivery_updates_check_versions);
            case!(delivery_batch_updates_check_each_version);
            case!(calendar_range_query);
            case!(calendar_paginates_past_one_page);
            case!(due_deliveries_across_teams_with_lookahead);
            case!(far_future_deliveries_never_crowd_out_due_ones);
            case!(interactions_inbox_thread_and_author);
            case!(inbox_filters_page_and_delete);
            case!(raw_events_by_channel_and_delete);
            case!(erased_events_are_remembered_by_fingerprint_and_replaced);
            case!(incidents_and_channels_by_platform);
            case!(metric_snapshots_by_subject_and_time);
            case!(metric_rollups_keep_the_days_latest_and_read_by_day_range);
            case!(reports_crud_and_listing);
            case!(members_are_unique_by_email_and_take_their_sessions_along);
            case!(sessions_end_one_or_all);
            case!(one_time_links_are_taken_once_and_lapse);
            case!(attempts_stop_at_the_limit_across_racers);
            case!(bucket_counters_count_every_concurrent_add);
            case!(concurrent_writes_fail_alone_and_are_readable_once_answered);

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn versioned_state_admits_one_writer() {
                super::versioned_state_admits_one_writer(Arc::new($make.await)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn claim_race_two_claimers() {
                super::claim_race(Arc::new($make.await), 2).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn claim_race_fifty_claimers() {
                super::claim_race(Arc::new($make.await), 50).await;
            }
        }
    };
}

async fn sqlite_store() -> herald_core::store::sqlite::SqliteStore {
    herald_core::store::sqlite::SqliteStore::in_memory().expect("in-memory SQLite opens")
}

contract_suite!(sqlite, sqlite_store());

/// A file, as `herald serve` opens it: WAL, read-only connections beside the writer, so reads
/// see only what is committed. The folder is kept, under the build's temp dir (a few KB each).
async fn sqlite_file_store() -> herald_core::store::sqlite::SqliteStore {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temp dir").keep();
    herald_core::store::sqlite::SqliteStore::open(dir.join("herald.db")).expect("SQLite file opens")
}

contract_suite!(sqlite_file, sqlite_file_store());

mod dynamo_support {
    use herald_core::store::dynamo::{DynamoStore, client_for_endpoint};

    pub fn endpoint() -> String {
        std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
            panic!(
                "HERALD_TEST_DYNAMODB_ENDPOINT is not set: the DynamoDB store contract needs a \
                 DynamoDB-compatible server. Run the suite with `tests/run`, which starts one."
            )
        })
    }

    /// A fresh table on the test server, named for this test alone.
    pub async fn store() -> (DynamoStore, aws_sdk_dynamodb::Client, String) {
        let client = client_for_endpoint(&endpoint()).await;
        let table = format!("herald-contract-{}", uuid::Uuid::new_v4().simple());
        DynamoStore::create_table(&client, &table).await.expect("test table is created");
        (DynamoStore::new(client.clone(), table.clone()), client, table)
    }
}

async fn dynamo_store() -> herald_core::store::dynamo::DynamoStore {
    dynamo_support::store().await.0
}

contract_suite!(dynamo, dynamo_store());

/// DynamoDB only deletes what carries a numeric `ttl` attribute: check a raw webhook body and
/// an erased event's fingerprint carry it, in epoch seconds, and that the table's TTL setting names that attribute.
#[tokio::test]
async fn dynamo_writes_the_ttl_attribute() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (store, client, table) = dynamo_support::store().await;
    let raw = RawEvent {
        id: RawEventId::new(),
        team_id: team("alpha").id,
        channel_id: ChannelId::new(),
        platform: Platform::Generic,
        received_at: t0(),
        body: "eyJhIjoxfQ==".into(),
        expires_at: t0() + Duration::days(14),
    };
    store.put_raw_event(&raw).await.unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("RAW#{}", raw.id)))
        .key("sk", AttributeValue::S("RAW".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the raw event item exists");
    let ttl = item.get("ttl").and_then(|v| v.as_n().ok()).expect("numeric ttl attribute");
    assert_eq!(ttl.parse::<i64>().unwrap(), (t0() + Duration::days(14)).timestamp());

    // So does an erased interaction's fingerprint, at its expiry.
    let erased = ErasedEvent::new(ChannelId::new(), "1234567890_9876543210", t0(), Duration::days(14));
    store.put_erased_event(&erased).await.unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("ERASED#{}", erased.fingerprint)))
        .key("sk", AttributeValue::S("ERASED".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the erased event item exists");
    let ttl = item.get("ttl").and_then(|v| v.as_n().ok()).expect("numeric ttl attribute");
    assert_eq!(ttl.parse::<i64>().unwrap(), erased.expires_at.timestamp());

    // And a session, at its expiry (14 days after sign-in).
    let m = member(&team("alpha").id, "marie@example.com", Role::Admin);
    let (x, _) = session(&m, t0());
    store.put_session(&x).await.unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("SESSION#{}", x.hash.as_str())))
        .key("sk", AttributeValue::S("SESSION".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the session item exists");
    let ttl = item.get("ttl").and_then(|v| v.as_n().ok()).expect("numeric ttl attribute");
    assert_eq!(ttl.parse::<i64>().unwrap(), (t0() + Duration::days(14)).timestamp());

    let ttl_desc = client.describe_time_to_live().table_name(&table).send().await.unwrap();
    let spec = ttl_desc.time_to_live_description().expect("TTL is configured");
    assert_eq!(spec.attribute_name(), Some("ttl"));
}
