"""Reference data for the demo generator: real French places, names and shop vocabulary.

Faker is slow per call, so its fr_FR lists are pulled once into Pools and every draw
afterwards is a cheap pick with the generator's own Random instance.
"""

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

from faker import Faker

# (city, postcodes "a,b,c" or an arrondissement range "first-last", region, weight ~ population)
_CITIES: tuple[tuple[str, str, str, float], ...] = (
    ("Paris", "75001-75020", "Île-de-France", 30),
    ("Marseille", "13001-13016", "Provence-Alpes-Côte d'Azur", 12),
    ("Lyon", "69001-69009", "Auvergne-Rhône-Alpes", 10),
    ("Toulouse", "31000,31100,31200,31300,31400,31500", "Occitanie", 7),
    ("Nice", "06000,06100,06200,06300", "Provence-Alpes-Côte d'Azur", 5),
    ("Nantes", "44000,44100,44200,44300", "Pays de la Loire", 5),
    ("Montpellier", "34000,34070,34080,34090", "Occitanie", 4.5),
    ("Strasbourg", "67000,67100,67200", "Grand Est", 4),
    ("Bordeaux", "33000,33100,33200,33300,33800", "Nouvelle-Aquitaine", 4),
    ("Lille", "59000,59160,59800", "Hauts-de-France", 3.5),
    ("Rennes", "35000,35200,35700", "Bretagne", 3),
    ("Reims", "51100", "Grand Est", 2),
    ("Toulon", "83000,83100,83200", "Provence-Alpes-Côte d'Azur", 2),
    ("Saint-Étienne", "42000,42100", "Auvergne-Rhône-Alpes", 2),
    ("Le Havre", "76600", "Normandie", 2),
    ("Grenoble", "38000,38100", "Auvergne-Rhône-Alpes", 2),
    ("Dijon", "21000", "Bourgogne-Franche-Comté", 2),
    ("Angers", "49000,49100", "Pays de la Loire", 2),
    ("Nîmes", "30000,30900", "Occitanie", 2),
    ("Villeurbanne", "69100", "Auvergne-Rhône-Alpes", 1.8),
    ("Clermont-Ferrand", "63000,63100", "Auvergne-Rhône-Alpes", 1.8),
    ("Le Mans", "72000,72100", "Pays de la Loire", 1.8),
    ("Aix-en-Provence", "13090,13100", "Provence-Alpes-Côte d'Azur", 1.8),
    ("Brest", "29200", "Bretagne", 1.7),
    ("Tours", "37000,37100,37200", "Centre-Val de Loire", 1.7),
    ("Amiens", "80000,80080,80090", "Hauts-de-France", 1.6),
    ("Limoges", "87000,87100", "Nouvelle-Aquitaine", 1.6),
    ("Annecy", "74000", "Auvergne-Rhône-Alpes", 1.5),
    ("Perpignan", "66000,66100", "Occitanie", 1.5),
    ("Boulogne-Billancourt", "92100", "Île-de-France", 1.5),
    ("Metz", "57000,57050,57070", "Grand Est", 1.5),
    ("Besançon", "25000", "Bourgogne-Franche-Comté", 1.5),
    ("Orléans", "45000,45100", "Centre-Val de Loire", 1.5),
    ("Saint-Denis", "93200", "Île-de-France", 1.4),
    ("Argenteuil", "95100", "Île-de-France", 1.4),
    ("Rouen", "76000,76100", "Normandie", 1.4),
    ("Montreuil", "93100", "Île-de-France", 1.4),
    ("Mulhouse", "68100,68200", "Grand Est", 1.4),
    ("Caen", "14000", "Normandie", 1.4),
    ("Nancy", "54000,54100", "Grand Est", 1.4),
    ("Versailles", "78000", "Île-de-France", 1.1),
    ("Nanterre", "92000", "Île-de-France", 1.1),
    ("Créteil", "94000", "Île-de-France", 1.1),
    ("Vincennes", "94300", "Île-de-France", 0.6),
    ("Neuilly-sur-Seine", "92200", "Île-de-France", 0.7),
    ("Saint-Germain-en-Laye", "78100", "Île-de-France", 0.6),
    ("Meaux", "77100", "Île-de-France", 0.6),
    ("Cergy", "95000", "Île-de-France", 0.7),
    ("Poitiers", "86000", "Nouvelle-Aquitaine", 1),
    ("Pau", "64000", "Nouvelle-Aquitaine", 0.9),
    ("La Rochelle", "17000", "Nouvelle-Aquitaine", 0.9),
    ("Bayonne", "64100", "Nouvelle-Aquitaine", 0.6),
    ("Niort", "79000", "Nouvelle-Aquitaine", 0.6),
    ("Avignon", "84000", "Provence-Alpes-Côte d'Azur", 1),
    ("Cannes", "06400", "Provence-Alpes-Côte d'Azur", 0.8),
    ("Antibes", "06600", "Provence-Alpes-Côte d'Azur", 0.8),
    ("Ajaccio", "20000", "Corse", 0.6),
    ("Bastia", "20200", "Corse", 0.4),
    ("Colmar", "68000", "Grand Est", 0.7),
    ("Troyes", "10000", "Grand Est", 0.6),
    ("Quimper", "29000", "Bretagne", 0.6),
    ("Vannes", "56000", "Bretagne", 0.6),
    ("Lorient", "56100", "Bretagne", 0.6),
    ("Saint-Malo", "35400", "Bretagne", 0.5),
    ("Chambéry", "73000", "Auvergne-Rhône-Alpes", 0.6),
    ("Valence", "26000", "Auvergne-Rhône-Alpes", 0.6),
    ("Beauvais", "60000", "Hauts-de-France", 0.5),
    ("Arras", "62000", "Hauts-de-France", 0.5),
    ("Calais", "62100", "Hauts-de-France", 0.5),
    ("Dunkerque", "59140", "Hauts-de-France", 0.6),
    ("Saint-Nazaire", "44600", "Pays de la Loire", 0.6),
    ("Cholet", "49300", "Pays de la Loire", 0.4),
    ("Laval", "53000", "Pays de la Loire", 0.4),
    ("Blois", "41000", "Centre-Val de Loire", 0.4),
    ("Chartres", "28000", "Centre-Val de Loire", 0.4),
    ("Bourges", "18000", "Centre-Val de Loire", 0.5),
    ("Auxerre", "89000", "Bourgogne-Franche-Comté", 0.3),
    ("Mâcon", "71000", "Bourgogne-Franche-Comté", 0.3),
    ("Albi", "81000", "Occitanie", 0.4),
    ("Carcassonne", "11000", "Occitanie", 0.4),
    ("Béziers", "34500", "Occitanie", 0.5),
    ("Montauban", "82000", "Occitanie", 0.5),
    ("Tarbes", "65000", "Occitanie", 0.3),
    ("Cherbourg-en-Cotentin", "50100", "Normandie", 0.5),
    ("Évreux", "27000", "Normandie", 0.4),
)

STREET_NAMES: tuple[str, ...] = (
    "de la République", "Victor Hugo", "Jean Jaurès", "Pasteur", "de la Gare",
    "du Général de Gaulle", "Gambetta", "Jules Ferry", "de la Paix", "Nationale",
    "du Moulin", "de l'Église", "des Écoles", "Voltaire", "Carnot", "Émile Zola",
    "de la Liberté", "du 8 Mai 1945", "Anatole France", "Jean Moulin", "des Lilas",
    "des Tilleuls", "du Château", "de Verdun", "du Maréchal Foch", "Georges Clemenceau",
    "Saint-Martin", "de Paris", "du Stade", "des Acacias", "Aristide Briand",
    "de la Mairie", "du Commerce", "des Roses", "Marcel Pagnol", "Albert Camus",
    "Lamartine", "Molière", "Jean de la Fontaine", "des Peupliers", "du Port",
    "de Strasbourg", "Paul Bert", "Alsace-Lorraine", "des Marronniers", "Henri Barbusse",
    "du Président Wilson", "de la Fontaine", "Gustave Eiffel", "Louis Blériot",
)
# (street type, weight); the abbreviated forms are what clerks type (see noise.py).
STREET_TYPES: tuple[tuple[str, float], ...] = (
    ("rue", 55), ("avenue", 14), ("boulevard", 6), ("allée", 6), ("impasse", 5),
    ("chemin", 5), ("place", 4), ("route", 3), ("quai", 1), ("square", 1),
)
LINE2_FORMATS: tuple[str, ...] = (
    "Appartement {n}", "Appt {n}", "Bâtiment {b}", "Bât. {b}, esc. {s}", "Résidence Les {r}",
    "{n}e étage", "Porte {n}", "Chez M. {last}", "BP {n}", "Lieu-dit Les {r}",
)
RESIDENCES: tuple[str, ...] = (
    "Tilleuls", "Jardins", "Cèdres", "Érables", "Pins", "Mimosas", "Platanes", "Hauts de Seine",
)
# (domain, weight): the French consumer mailbox market, roughly.
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 36), ("orange.fr", 14), ("hotmail.fr", 9), ("yahoo.fr", 6), ("free.fr", 7),
    ("laposte.net", 5), ("outlook.fr", 5), ("sfr.fr", 4), ("wanadoo.fr", 4), ("icloud.com", 4),
    ("live.fr", 3), ("hotmail.com", 2), ("neuf.fr", 1), ("bbox.fr", 1), ("protonmail.com", 1),
)
# Plausible mistyped domains: syntactically valid, so they count as other addresses.
DOMAIN_TYPOS: dict[str, str] = {
    "gmail.com": "gmial.com", "hotmail.fr": "hotmial.fr", "orange.fr": "orange.fe",
    "yahoo.fr": "yaho.fr", "free.fr": "fre.fr", "laposte.net": "laposte.fr",
    "outlook.fr": "outlook.com", "wanadoo.fr": "orange.fr", "sfr.fr": "neuf.fr",
}
MODERN_FIRST_NAMES_M: tuple[str, ...] = (
    "Hugo", "Lucas", "Nathan", "Enzo", "Louis", "Gabriel", "Léo", "Raphaël", "Arthur",
    "Théo", "Maxime", "Kevin", "Mathis", "Clément", "Romain", "Quentin", "Anthony", "Yanis",
    "Mehdi", "Karim", "Sofiane", "Florian", "Jérémy", "Dylan", "Baptiste",
)
MODERN_FIRST_NAMES_F: tuple[str, ...] = (
    "Léa", "Emma", "Chloé", "Inès", "Jade", "Sarah", "Camille", "Manon", "Clara", "Lina",
    "Laura", "Marion", "Mélanie", "Sandrine", "Nadia", "Yasmine", "Océane", "Justine",
    "Anaïs", "Émilie", "Alice", "Louna", "Zoé", "Elsa", "Fatima",
)
COMPOUND_FIRST_M: tuple[str, ...] = ("Pierre", "Luc", "Marc", "Michel", "François", "Paul",
                                     "Claude", "Philippe", "Baptiste", "Christophe")
COMPOUND_FIRST_F: tuple[str, ...] = ("Claire", "Christine", "Hélène", "Laure", "Anne",
                                     "Pierre", "France", "Thérèse", "Noëlle", "Agnès")
# Faker's list carries a few English or odd entries that would look off in a French CRM.
_SKIPPED_NAMES = frozenset({"Nath", "Alexandria", "Maggie", "Susan", "Margaret", "Lucy",
                            "William", "Isaac", "Alexandrie", "Olivie", "Arnaude"})

# (category, weight, median basket in euros)
CATEGORIES: tuple[tuple[str, float, float], ...] = (
    ("mode", 30, 55), ("chaussures", 12, 70), ("beaute", 14, 32), ("maison", 12, 60),
    ("high-tech", 8, 180), ("sport", 9, 65), ("enfants", 8, 40), ("jardin", 4, 75),
    ("epicerie-fine", 3, 28),
)
PRODUCTS: dict[str, tuple[str, ...]] = {
    "mode": ("robe-lin", "jean-slim", "pull-laine", "veste-impermeable", "chemise-oxford"),
    "chaussures": ("baskets-cuir", "bottines-daim", "sandales-plage", "mocassins"),
    "beaute": ("creme-hydratante", "parfum-fleuri", "serum-eclat", "coffret-soin"),
    "maison": ("lampe-design", "parure-lit", "plaid-laine", "vase-ceramique"),
    "high-tech": ("casque-audio", "montre-connectee", "enceinte-bluetooth", "liseuse"),
    "sport": ("tapis-yoga", "velo-appartement", "gourde-isotherme", "brassiere-running"),
    "enfants": ("peluche-lapin", "puzzle-bois", "body-coton", "trottinette"),
    "jardin": ("arrosoir-zinc", "salon-de-jardin", "secateur", "jardiniere"),
    "epicerie-fine": ("coffret-the", "huile-olive", "chocolats-noirs", "confiture-abricot"),
}
SHOP_PAGES: tuple[str, ...] = (
    "/", "/nouveautes", "/promotions", "/panier", "/compte/commandes", "/soldes", "/magasins",
)
STORES: tuple[str, ...] = (
    "Paris Rivoli", "Paris Montparnasse", "Lyon Part-Dieu", "Marseille Terrasses du Port",
    "Lille Euralille", "Bordeaux Sainte-Catherine", "Toulouse Wilson", "Nantes Atlantis",
    "Strasbourg Rivetoile", "Nice Cap 3000", "Rennes Alma", "Montpellier Odysseum",
)
LOYALTY_TIERS: tuple[tuple[str, float], ...] = (
    ("bronze", 50), ("argent", 30), ("or", 15), ("platine", 5),
)
SIGNUP_FORMS: tuple[tuple[str, float], ...] = (
    ("newsletter-footer", 45), ("popup-bienvenue", 25), ("checkout-optin", 15),
    ("jeu-concours", 10), ("magasin-tablette", 5),
)
# Newsletter theme by month (1-12), used to name campaigns like "nl-20250114-soldes-hiver".
MONTH_THEMES: tuple[str, ...] = (
    "soldes-hiver", "saint-valentin", "printemps", "paques", "fete-des-meres",
    "soldes-ete", "vacances", "bons-plans-aout", "rentree", "nouvelle-collection",
    "black-friday", "noel",
)


def _postcodes(spec: str) -> tuple[str, ...]:
    """'75001-75020' -> every arrondissement code; '44000,44100' -> those codes."""
    if "-" not in spec:
        return tuple(spec.split(","))
    first, last = (int(p) for p in spec.split("-"))
    return tuple(f"{code:05d}" for code in range(first, last + 1))


T = TypeVar("T")


class Weighted(Generic[T]):
    """A weighted draw several times cheaper than random.choices for a single item."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    @classmethod
    def of(cls, pairs: Sequence[tuple[T, float]]) -> "Weighted[T]":
        return cls([item for item, _ in pairs], [weight for _, weight in pairs])

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect(self.cum, rng.random() * self.total)]


@dataclass(frozen=True)
class City:
    name: str
    postcodes: tuple[str, ...]
    region: str


class Pools:
    """Every list a person is drawn from, built once per run (a few Faker calls only)."""

    def __init__(self, faker: Faker) -> None:
        provider = faker.provider("faker.providers.person")
        male = [n for n in provider.first_names_male if n not in _SKIPPED_NAMES]
        female = [n for n in provider.first_names_female if n not in _SKIPPED_NAMES]
        self.first_m = sorted(set(male)) + list(MODERN_FIRST_NAMES_M)
        self.first_f = sorted(set(female)) + list(MODERN_FIRST_NAMES_F)
        # Faker's last names come ordered by frequency: a Zipf-like weight keeps
        # Martin and Bernard common and the tail rare, as in a real file.
        last = list(dict.fromkeys(provider.last_names))
        self.last = Weighted(last, [1 / (rank + 8) for rank in range(len(last))])
        self.cities = Weighted([City(c, _postcodes(p), r) for c, p, r, _ in _CITIES],
                               [w for *_, w in _CITIES])
        # Faker-made streets ("rue Noël Weber") give variety beside the classic names.
        self.faker_streets = sorted({faker.street_name() for _ in range(400)})
        self.companies = sorted({faker.company() for _ in range(400)})
        self.street_types = Weighted.of(STREET_TYPES)
        self.domains = Weighted.of(EMAIL_DOMAINS)

    def street(self, rng: random.Random) -> str:
        if rng.random() < 0.25:
            return rng.choice(self.faker_streets)
        return f"{self.street_types.pick(rng)} {rng.choice(STREET_NAMES)}"
