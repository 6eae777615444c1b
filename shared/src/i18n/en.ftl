# English. How this locale writes numbers and dates (chrono patterns; month and day names come
# from `locale-chrono`).
locale-chrono = en_GB
locale-decimal-separator = .
locale-group-separator = ,
locale-percent = {"{"}value{"}"}%
locale-minus = −
locale-date = %-d %b %Y
locale-day-month = %-d %b
locale-datetime = %-d %b %Y %H:%M

posts-count = { $n ->
    [one] { $n } post
   *[other] { $n } posts
}

## summary
# The summary at the top of a report (shared/src/services/reports/summary.rs; rules in
# docs/reports.md, "Summary"). Numbers arrive formatted ($x_shown); $x is for plurals.
summary-title = Summary
summary-quiet = Nothing happened in this period: no post went out, no message came in, no crisis alert.
summary-unmeasured = { $posts ->
    [one] One post went out; it has not been measured yet.
   *[other] { $posts_shown } posts went out; none has been measured yet.
}
summary-engagements-alone = { $posts ->
    [one] One post drew { $engagements } engagements; the previous period has none to compare with.
   *[other] { $posts_shown } posts drew { $engagements } engagements; the previous period has none to compare with.
}
summary-engagements = { $trend ->
    [up] Engagements rose by { $change }
    [down] Engagements fell by { $change }
   *[steady] Engagements held steady
} compared with the previous period ({ $engagements }, from { $posts ->
    [one] one post
   *[other] { $posts_shown } posts
}).
summary-engagements-impressions = { $trend ->
    [up] Engagements rose by { $change }
    [down] Engagements fell by { $change }
   *[steady] Engagements held steady
} compared with the previous period ({ $engagements }, from { $posts ->
    [one] one post
   *[other] { $posts_shown } posts
}); { $impressions }.
summary-impressions = { $trend ->
    [up] impressions rose by { $change }
    [down] impressions fell by { $change }
   *[steady] impressions held steady
}
summary-followers = { $trend ->
    [up] Followers grew by { $change } to { $followers }.
    [down] Followers fell by { $change } to { $followers }.
   *[steady] Followers held at { $followers }.
}
summary-best-slot = { $day ->
    [0] Monday
    [1] Tuesday
    [2] Wednesday
    [3] Thursday
    [4] Friday
    [5] Saturday
   *[6] Sunday
} at { $time } did best: { $mean } engagements per post on average, over { $posts_shown } { $posts ->
    [one] post
   *[other] posts
} (this period and the previous one).
summary-incidents = { $count ->
    [one] One crisis alert, on { $date }
   *[other] { $count_shown } crisis alerts, the first on { $date }
}: { $first }.
summary-incident-answered = answered in { $after }
summary-incident-unanswered = no answer through Herald before the period ended
summary-inbox = { $received ->
    [one] One message came in
   *[other] { $received_shown } messages came in
}: { $answered ->
    [0] none answered through Herald before the period ended
   *[other] { $answered_shown } answered through Herald (median first response { $median })
}{ $open ->
    [0] {"."}
   *[other] , { $open_shown } still open when the report was made.
}
summary-failed = { $failed ->
    [one] One post failed to go out.
   *[other] { $failed_shown } posts failed to go out.
}
summary-duration-min = { $m } min
summary-duration-h = { $h } h
summary-duration-h-min = { $h } h { $m } min
summary-duration-d = { $d } d
summary-duration-d-h = { $d } d { $h } h
