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
