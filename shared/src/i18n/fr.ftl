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

## summary
# Le résumé en tête d'un rapport (shared/src/services/reports/summary.rs ; règles dans
# docs/reports.md, « Summary »). Les nombres arrivent mis en forme ($x_shown) ; $x sert aux pluriels.
summary-title = En bref
summary-quiet = Rien ne s'est passé pendant cette période : aucune publication, aucun message, aucune alerte de crise.
summary-unmeasured = { $posts ->
    [one] Une publication est partie ; elle n'a pas encore été mesurée.
   *[other] { $posts_shown } publications sont parties ; aucune n'a encore été mesurée.
}
summary-engagements-alone = { $posts ->
    [one] Une publication a suscité { $engagements } interactions ; la période précédente n'offre rien à comparer.
   *[other] { $posts_shown } publications ont suscité { $engagements } interactions ; la période précédente n'offre rien à comparer.
}
summary-engagements = { $trend ->
    [up] Les interactions ont augmenté de { $change }
    [down] Les interactions ont baissé de { $change }
   *[steady] Les interactions sont restées stables
} par rapport à la période précédente ({ $engagements }, pour { $posts ->
    [one] une publication
   *[other] { $posts_shown } publications
}).
summary-engagements-impressions = { $trend ->
    [up] Les interactions ont augmenté de { $change }
    [down] Les interactions ont baissé de { $change }
   *[steady] Les interactions sont restées stables
} par rapport à la période précédente ({ $engagements }, pour { $posts ->
    [one] une publication
   *[other] { $posts_shown } publications
}) ; { $impressions }.
summary-impressions = { $trend ->
    [up] les impressions ont augmenté de { $change }
    [down] les impressions ont baissé de { $change }
   *[steady] les impressions sont restées stables
}
summary-followers = { $trend ->
    [up] Le nombre d'abonnés a augmenté de { $change } pour atteindre { $followers }.
    [down] Le nombre d'abonnés a baissé de { $change }, à { $followers }.
   *[steady] Le nombre d'abonnés est resté à { $followers }.
}
summary-best-slot = Meilleur créneau : le { $day ->
    [0] lundi
    [1] mardi
    [2] mercredi
    [3] jeudi
    [4] vendredi
    [5] samedi
   *[6] dimanche
} à { $time }, avec { $mean } interactions par publication en moyenne sur { $posts_shown } { $posts ->
    [one] publication
   *[other] publications
} (cette période et la précédente).
summary-incidents = { $count ->
    [one] Une alerte de crise, le { $date }
   *[other] { $count_shown } alertes de crise, la première le { $date }
} : { $first }.
summary-incident-answered = réponse en { $after }
summary-incident-unanswered = aucune réponse par Herald avant la fin de la période
summary-inbox = { $received ->
    [one] Un message reçu
   *[other] { $received_shown } messages reçus
} : { $answered ->
    [0] aucune réponse par Herald avant la fin de la période
   *[other] { $answered_shown } avec une réponse par Herald (premier délai médian : { $median })
}{ $open ->
    [0] {"."}
   *[other] , { $open_shown } encore { $open ->
        [one] ouvert
       *[other] ouverts
    } à la création du rapport.
}
summary-failed = { $failed ->
    [one] Une publication n'a pas pu partir.
   *[other] { $failed_shown } publications n'ont pas pu partir.
}
summary-duration-min = { $m } min
summary-duration-h = { $h } h
summary-duration-h-min = { $h } h { $m }
summary-duration-d = { $d } j
summary-duration-d-h = { $d } j { $h } h
