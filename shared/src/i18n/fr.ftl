# Français. Comment cette langue écrit nombres et dates (motifs chrono ; noms des mois et des
# jours par `locale-chrono`).
locale-chrono = fr_FR
locale-decimal-separator = ,
locale-group-separator = {"\u202F"}
locale-percent = {"{"}value{"}"}{"\u00A0"}%
locale-minus = −
locale-date = %-d %b %Y
locale-day-month = %-d %b
locale-datetime = %-d %b %Y %H:%M

posts-count = { $n ->
    [one] { $n } publication
   *[other] { $n } publications
}
