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

## report
report-title = { $team } — rapport réseaux sociaux, du { $from } au { $to }
report-subtitle = Heures de { $zone } · comparé au { $prev_from } – { $prev_to } · établi le { $generated } · compteurs mesurés jusqu’au { $measured }
compared-same-age = La période précédente est présentée telle qu’elle était une période plus tôt (compteurs jusqu’au { $previous_measured }), pour comparer les publications des deux périodes au même âge.
logo-alt = logo de { $team }
nothing-happened = Rien ne s’est passé sur cette période :
nothing-happened-detail = aucune publication, aucun message ni commentaire reçu, aucune alerte de crise et aucune publication en échec.
this-period = Cette période
previous-period = Période précédente
previous-value = période précédente : { $value }
delta-percent = { $change } par rapport à la période précédente
delta-points = { $change } pts par rapport à la période précédente
delta-previous-zero = période précédente : 0
delta-no-previous = pas de chiffre précédent
duration-seconds = { $s } s
duration-minutes = { $m } min
duration-hours = { $h } h { $m } min
duration-days = { $d } j { $h } h

kpi-posts = Publications
kpi-impressions = Impressions
kpi-reach = Portée
kpi-engagements = Interactions
kpi-rate = Taux d’engagement
kpi-growth = Nouveaux abonnés
kpi-interactions = Messages et commentaires
kpi-median-response = Délai médian de réponse
kpi-failed = Publications en échec

section-channels = Comptes
no-channels = L’équipe n’a aucun compte.
col-channel = Compte
col-network = Réseau
col-posts = Publications
col-impressions = Impressions
col-engagements = Interactions
col-rate = Taux d’engagement
col-followers = Abonnés
col-growth = Évolution
col-failed = En échec

section-followers = Abonnés
section-daily = Interactions par jour
section-top = Meilleures publications
section-bottom = Publications les moins engageantes
top-empty = Aucune publication mesurée sur cette période.
bottom-empty = Trop peu de publications mesurées pour lister les moins engageantes en plus des meilleures.
col-published = Publiée le
col-post = Publication
col-likes = J’aime
col-reposts = Partages
col-replies = Réponses
col-other = Citations, enregistrements, clics
view-post = Voir sur { $network }

section-best-time = Meilleurs moments pour publier
best-time-about = Interactions moyennes par publication selon le jour et l’heure, sur cette période et la précédente. Un créneau n’est recommandé que si au moins { $min } publications y sont parties ; les cases barrées en ont moins.
best-time-not-enough = Pas encore assez de publications : aucun jour et heure ne compte { $min } publications mesurées ({ $sample } mesurées jusqu’ici).
col-recommended = Créneaux recommandés (heure locale)
recommended-slot = { $weekday } { $hour } ({ $mean } interactions par publication sur { $posts } publications)

section-inbox = Messagerie
inbox-received = Messages et commentaires reçus
inbox-by-kind = Par type
inbox-answered = Répondus depuis la messagerie partagée
inbox-median = Délai médian avant une première réponse
inbox-open = Encore ouverts ou attribués à la date du rapport
kind-comment = { $n ->
    [one] { $n } commentaire
   *[other] { $n } commentaires
}
kind-mention = { $n ->
    [one] { $n } mention
   *[other] { $n } mentions
}
kind-reply = { $n ->
    [one] { $n } réponse
   *[other] { $n } réponses
}
kind-direct-message = { $n ->
    [one] { $n } message privé
   *[other] { $n } messages privés
}

section-incidents = Alertes de crise
incidents-none = Aucune sur cette période (période précédente : { $previous }).
incidents-previous = Période précédente : { $previous }.
col-opened = Début
col-closed = Fin
col-negatives = Messages négatifs
col-usual = Niveau habituel
still-open = toujours en cours
usual-almost-none = presque aucun

section-failed = Publications en échec
failed-none = Aucune.
col-scheduled = Prévue le
col-attempts = Tentatives
col-reason = Raison

section-definitions = Comment les chiffres sont calculés
def-engagement-rate = Les interactions sont les j’aime + partages + réponses + citations + enregistrements + clics, selon ce que le réseau fournit. Le taux d’engagement d’une publication est le nombre de ses interactions divisé par ses impressions quand le réseau les fournit, sinon par le nombre d’abonnés du compte le jour de sa parution. Le taux d’un ensemble de publications est la somme de leurs interactions divisée par la somme de ces dénominateurs ; une publication sans taux propre (pas de dénominateur, ou 0 impression) n’y entre pas.
definitions = Impressions et portée sont additionnées sur les publications dont le réseau les fournit (— quand aucun ne le fait). L’évolution des abonnés est le dernier compte de la période moins le dernier compte d’avant, sur les comptes mesurés aux deux bouts. Les réponses et le délai médian comptent les réponses faites depuis la messagerie partagée avant la fin de la période : refaire le même rapport plus tard donne les mêmes chiffres ; la moitié des messages répondus l’ont été plus vite que la médiane. Ouverts : messages de la période encore ouverts ou attribués quand le rapport a été établi.
definitions-files = Le tableau par publication est dans report.csv ; tout le rapport est dans report.json.
made-with-herald = Établi avec Herald, l’outil libre de gestion des réseaux sociaux.

## charts: the report's charts (shared/src/services/reports/charts.rs)
chart-weekday-day = { $weekday } { $day }
chart-followers-label = Abonnés par compte
chart-followers-empty = Aucun nombre d’abonnés mesuré sur cette période.
chart-followers-axis = Abonnés gagnés ou perdus depuis le { $date } au soir
chart-followers-point = { $channel }, { $date } : { $count } abonnés ({ $change })
chart-followers-legend = { $channel } : { $change } ({ $from } → { $to })
chart-followers-caption = Chaque ligne suit les abonnés gagnés ou perdus par un compte depuis le { $date } au soir : petits et grands comptes sur la même échelle.
chart-engagement-label = Interactions par jour
chart-engagement-empty = Aucune interaction mesurée sur les publications de cette période.
chart-engagement-y = Interactions (j’aime, partages, réponses…)
chart-engagement-x = Jour de publication
chart-engagement-bar = { $date } : { $engagements } { $n ->
        [one] interaction
       *[other] interactions
    } sur { $posts ->
        [0] aucune publication
        [one] 1 publication
       *[other] { $posts } publications
    }
chart-engagement-caption = Chaque barre : les interactions des publications parues ce jour-là, telles que mesurées.
chart-heatmap-label = Interactions par jour et par heure
chart-heatmap-empty = Aucune publication mesurée : pas encore de meilleur moment à montrer.
chart-heatmap-cell = { $weekday } { $hour } : { $mean } interactions par publication ({ $posts ->
        [one] 1 publication
       *[other] { $posts } publications
    })
chart-heatmap-scale = { $max } interactions par publication
chart-heatmap-recommended = recommandé
chart-heatmap-few = barré : moins de { $n } publications
chart-heatmap-caption = Heures de { $zone } ; { $n ->
        [one] 1 publication mesurée
       *[other] { $posts } publications mesurées
    }, sur cette période et la précédente.
chart-sentiment-label = Tonalité des messages
chart-sentiment-empty = Aucun commentaire ni message reçu sur cette période.
chart-sentiment-positive = Positifs
chart-sentiment-neutral = Neutres
chart-sentiment-negative = Négatifs
chart-sentiment-unscored = Non évalués
chart-sentiment-part = { $label } : { $n } sur { $total } ({ $share })
chart-sentiment-legend = { $label } : { $n }
chart-sentiment-caption = La tonalité des commentaires, mentions et messages reçus sur la période.

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
summary-incident-unanswered = aucune réponse depuis la messagerie avant la fin de la période
summary-inbox = { $received ->
    [one] Un message reçu
   *[other] { $received_shown } messages reçus
} : { $answered ->
    [0] aucune réponse depuis la messagerie avant la fin de la période
   *[other] { $answered_shown } avec une réponse depuis la messagerie (premier délai médian : { $median })
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

## mail
mail-weekly = rapport hebdomadaire, du { $from } au { $to }
mail-monthly = rapport mensuel, du { $from } au { $to }
mail-subject = { $team } : { $period }
mail-intro = { $team } : votre { $period }.
mail-read = Lire le rapport complet
mail-read-until = (sans connexion ; le lien fonctionne jusqu’au { $until }) :
mail-attached = Pièces jointes : { $files }.
mail-no-figures = Les chiffres sont dans le rapport.

## pdf
pdf-heading = Rapport réseaux sociaux, du { $from } au { $to }
pdf-subtitle = Heures de { $zone } · comparé au { $prev_from } – { $prev_to } · compteurs mesurés jusqu’au { $measured }
pdf-generated = Établi avec Herald le { $at }
pdf-generated-plain = Établi le { $at }
pdf-page = Page { $n } sur { $total }
