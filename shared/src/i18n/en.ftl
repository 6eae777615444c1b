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

## report
report-title = { $team } — social media report, { $from } to { $to }
report-subtitle = Times in { $zone } · compared with { $prev_from } to { $prev_to } · made { $generated } · counters as measured until { $measured }
compared-same-age = The previous period is shown as it stood one period earlier (counters until { $previous_measured }), so both periods’ posts are compared at the same age.
logo-alt = { $team } logo
nothing-happened = Nothing happened in this period:
nothing-happened-detail = no post was published, no message or comment came in, no crisis alert was raised and no post failed to publish.
this-period = This period
previous-period = Previous period
previous-value = previous period: { $value }
delta-percent = { $change } vs the previous period
delta-points = { $change } pts vs the previous period
delta-previous-zero = previous period: 0
delta-no-previous = no previous figure
duration-seconds = { $s } s
duration-minutes = { $m } min
duration-hours = { $h } h { $m } min
duration-days = { $d } d { $h } h

kpi-posts = Posts published
kpi-impressions = Impressions
kpi-reach = Reach
kpi-engagements = Engagements
kpi-rate = Engagement rate
kpi-growth = Follower growth
kpi-interactions = Messages and comments
kpi-median-response = Median first response
kpi-failed = Posts that failed

section-channels = Channels
no-channels = The team has no channels.
col-channel = Channel
col-network = Network
col-posts = Posts
col-impressions = Impressions
col-engagements = Engagements
col-rate = Engagement rate
col-followers = Followers
col-growth = Growth
col-failed = Failed

section-followers = Followers
section-daily = Engagement per day
section-top = Top posts
section-bottom = Posts that engaged least
top-empty = No measured post in this period.
bottom-empty = Too few measured posts to list the least engaging apart from the top ones.
col-published = Published
col-post = Post
col-likes = Likes
col-reposts = Reposts
col-replies = Replies
col-other = Quotes, saves, clicks
view-post = View on { $network }

section-best-time = Best time to post
best-time-about = Average engagements per post by weekday and hour, over this period and the previous one. A time is recommended only when at least { $min } posts went out then; crossed cells have fewer.
best-time-not-enough = Not enough posts yet: no weekday and hour has { $min } measured posts ({ $sample } measured so far).
col-recommended = Recommended times (local time)
recommended-slot = { $weekday } { $hour } ({ $mean } engagements per post over { $posts } posts)

section-inbox = Inbox
inbox-received = Messages and comments received
inbox-by-kind = By kind
inbox-answered = Answered from the shared inbox
inbox-median = Median time to a first answer
inbox-open = Still open or assigned when the report was made
kind-comment = { $n ->
    [one] { $n } comment
   *[other] { $n } comments
}
kind-mention = { $n ->
    [one] { $n } mention
   *[other] { $n } mentions
}
kind-reply = { $n ->
    [one] { $n } reply
   *[other] { $n } replies
}
kind-direct-message = { $n ->
    [one] { $n } direct message
   *[other] { $n } direct messages
}

section-incidents = Crisis alerts
incidents-none = None in this period (previous period: { $previous }).
incidents-previous = Previous period: { $previous }.
col-opened = Started
col-closed = Ended
col-negatives = Negative messages
col-usual = Usual level
still-open = still open
usual-almost-none = almost none

section-failed = Posts that failed to publish
failed-none = None.
col-scheduled = Scheduled for
col-attempts = Attempts
col-reason = Reason

section-definitions = How the figures are counted
def-engagement-rate = Engagements are likes + reposts + replies + quotes + bookmarks + clicks, whichever the network reports. A post's engagement rate is its engagements divided by its impressions where the network reports impressions, otherwise by the channel's followers on the day it went out. The rate of a set of posts is the sum of their engagements divided by the sum of those denominators; a post without a rate of its own (no denominator, or 0 impressions) is left out of it.
definitions = Impressions and reach are summed over the posts whose network reports them (— when none does). Follower growth is the last count of the period minus the last count before it, over channels measured at both ends. Answered and median first response count the answers given from the shared inbox before the period ended, so making the same period again later gives the same figures; half the answered messages got their first answer faster than the median. Open items: messages of the period still open or assigned when the report was made.
definitions-files = The per-post table is in report.csv; everything is in report.json.
made-with-herald = Made with Herald, open-source social media management.

## charts: the report's charts (shared/src/services/reports/charts.rs)
chart-weekday-day = { $weekday } { $day }
chart-followers-label = Followers per channel
chart-followers-empty = No follower counts measured in this period.
chart-followers-axis = Followers gained or lost since the end of { $date }
chart-followers-point = { $channel }, { $date }: { $count } followers ({ $change })
chart-followers-legend = { $channel }: { $change } ({ $from } → { $to })
chart-followers-caption = Each line is one channel's change in followers since the end of { $date }: small and large accounts on one scale.
chart-engagement-label = Engagements per day
chart-engagement-empty = No engagement measured on posts of this period.
chart-engagement-y = Engagements (likes, reposts, replies…)
chart-engagement-x = Day the posts were published
chart-engagement-bar = { $date }: { $engagements } { $n ->
        [one] engagement
       *[other] engagements
    } on { $posts ->
        [0] no post
        [one] 1 post
       *[other] { $posts } posts
    }
chart-engagement-caption = Each bar: the engagements of the posts published that day, as measured.
chart-heatmap-label = Engagement by weekday and hour
chart-heatmap-empty = No measured posts yet: no best time to show.
chart-heatmap-cell = { $weekday } { $hour }: { $mean } engagements per post ({ $posts ->
        [one] 1 post
       *[other] { $posts } posts
    })
chart-heatmap-scale = { $max } engagements per post
chart-heatmap-recommended = recommended
chart-heatmap-few = crossed: fewer than { $n } posts
chart-heatmap-caption = Times in { $zone }; { $n ->
        [one] 1 measured post
       *[other] { $posts } measured posts
    }, this period and the previous one.
chart-sentiment-label = Sentiment mix
chart-sentiment-empty = No comments or messages came in this period.
chart-sentiment-positive = Positive
chart-sentiment-neutral = Neutral
chart-sentiment-negative = Negative
chart-sentiment-unscored = Not scored
chart-sentiment-part = { $label }: { $n } of { $total } ({ $share })
chart-sentiment-legend = { $label }: { $n }
chart-sentiment-caption = The tone of the comments, mentions and messages received in the period.

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
summary-incident-unanswered = no answer from the inbox before the period ended
summary-inbox = { $received ->
    [one] One message came in
   *[other] { $received_shown } messages came in
}: { $answered ->
    [0] none answered from the inbox before the period ended
   *[other] { $answered_shown } answered from the inbox (median first response { $median })
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

## mail
mail-weekly = weekly report, { $from } – { $to }
mail-monthly = monthly report, { $from } – { $to }
mail-subject = { $team }: { $period }
mail-intro = { $team }: your { $period }.
mail-read = Read the whole report
mail-read-until = (no sign-in needed; the link works until { $until }):
mail-attached = Attached: { $files }.
mail-no-figures = The figures are in the report.

## pdf
pdf-heading = Social media report, { $from } to { $to }
pdf-subtitle = Times in { $zone } · compared with { $prev_from } to { $prev_to } · counters as measured until { $measured }
pdf-generated = Made with Herald on { $at }
pdf-generated-plain = Made on { $at }
pdf-page = Page { $n } of { $total }
