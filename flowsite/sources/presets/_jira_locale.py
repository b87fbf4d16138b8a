"""Jira's localised vocabulary: CSV headers, month names, issue types and status categories.

Jira translates the CSV export into the exporting user's language (en, es, de, fr, ru here; the
REST API adds Chinese type names on sites set to it). Everything maps onto the English names.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

# English header -> its spellings in other UI languages (matched case-insensitively).
HEADERS: dict[str, tuple[str, ...]] = {
    "Summary": ("Resumen", "Zusammenfassung", "Résumé", "Тема"),
    "Issue key": ("Clave de incidencia", "Schlüssel", "Vorgangsschlüssel", "Clé", "Clé de ticket", "Clé du ticket", "Ключ проблемы", "Ключ задачи"),
    "Issue id": ("ID de la incidencia", "Vorgangs-ID", "ID de ticket", "ID du ticket", "Идентификатор проблемы", "Идентификатор задачи"),
    "Issue Type": ("Tipo de Incidencia", "Vorgangstyp", "Type de ticket", "Тип задачи", "Тип проблемы"),
    "Status": ("Estado", "Status", "État", "Etat", "Statut", "Статус"),
    "Project key": ("Clave del proyecto", "Projektschlüssel", "Clé de projet", "Clé du projet", "Ключ проекта"),
    "Priority": ("Prioridad", "Priorität", "Priorité", "Приоритет"),
    "Resolution": ("Resolución", "Lösung", "Résolution", "Решение"),
    "Created": ("Creada", "Creado", "Erstellt", "Création", "Créé", "Создано", "Создана"),
    "Updated": ("Actualizada", "Aktualisiert", "Mise à jour", "Обновлено", "Обновленo"),
    "Resolved": ("Resuelta", "Erledigt", "Gelöst", "Résolu", "Résolue", "Date de résolution", "Дата решения"),
    "Status Category": ("Categoría de estado", "Statuskategorie", "Catégorie d'état", "Catégorie de statut", "Категория статуса"),
    "Status Category Changed": ("Categoría de estado cambiada", "Statuskategorie geändert", "Catégorie d'état modifiée", "Catégorie de statut modifiée", "Категория статуса изменена"),
    "Labels": ("Etiquetas", "Stichwörter", "Étiquettes", "Метки"),
    "Components": ("Componentes", "Komponenten", "Composants", "Компоненты"),
    "Sprint": ("Спринт",),
    "Parent key": ("Clave principal", "Übergeordneter Schlüssel", "Clé parente", "Ключ родителя"),
}
CUSTOM_FIELD_PREFIXES = ("Campo personalizado (", "Benutzerdefiniertes Feld (", "Champ personnalisé (", "Пользовательское поле (")

MONTHS: dict[str, int] = {}
for _n, _names in enumerate(
    (
        "jan janv ene jän jä янв январь января",
        "feb févr fevr fév фев февраль февраля",
        "mar mär mrz mars мар март марта",
        "apr abr avr апр апрель апреля",
        "may mai май мая",
        "jun juin июн июнь июня",
        "jul juil июл июль июля",
        "aug ago août aout авг август августа",
        "sep sept set сен сент сентябрь сентября",
        "oct okt окт октябрь октября",
        "nov ноя нояб ноябрь ноября",
        "dec dic dez déc дек декабрь декабря",
    ),
    1,
):
    for _name in _names.split():
        MONTHS[_name] = _n

DATE_RE = re.compile(
    r"^(?P<d>\d{1,2})[/.\- ](?P<m>[^\d/.\- ]+)\.?[/.\- ](?P<y>\d{2}|\d{4})"
    r"(?:[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[aApP])?\.?\s*(?:[mM]\.?)?)?$"
)

# Localised issue type -> English default name (config `types:` is checked first).
TYPES = {
    "historia": "Story", "tarea": "Task", "subtarea": "Sub-task", "error": "Bug", "épica": "Epic", "epica": "Epic", "mejora": "Improvement", "nueva función": "New Feature", "incidente": "Incident",
    "aufgabe": "Task", "unteraufgabe": "Sub-task", "teilaufgabe": "Sub-task", "fehler": "Bug", "epos": "Epic", "verbesserung": "Improvement", "neue funktion": "New Feature", "vorfall": "Incident",
    "tâche": "Task", "sous-tâche": "Sub-task", "bogue": "Bug", "anomalie": "Bug", "récit": "Story", "histoire": "Story", "épopée": "Epic", "amélioration": "Improvement", "nouvelle fonctionnalité": "New Feature",
    "история": "Story", "задача": "Task", "подзадача": "Sub-task", "ошибка": "Bug", "баг": "Bug", "эпик": "Epic", "эпос": "Epic", "улучшение": "Improvement", "новая функция": "New Feature", "инцидент": "Incident",
    "故事": "Story", "任务": "Task", "子任务": "Sub-task", "缺陷": "Bug", "故障": "Bug", "错误": "Bug", "史诗": "Epic", "长篇故事": "Epic", "改进": "Improvement", "新功能": "New Feature", "事件": "Incident",
    "[system] incident": "Incident", "[system] problem": "Problem",
}

# Status Category (CSV, localised) or statusCategory.key (REST) -> Jira category key.
CATEGORIES = {
    "to do": "new", "new": "new", "por hacer": "new", "tareas por hacer": "new", "zu erledigen": "new", "à faire": "new", "к выполнению": "new", "сделать": "new", "待办": "new", "新建": "new",
    "in progress": "indeterminate", "indeterminate": "indeterminate", "en curso": "indeterminate", "en progreso": "indeterminate", "in arbeit": "indeterminate", "en cours": "indeterminate", "в работе": "indeterminate", "进行中": "indeterminate", "处理中": "indeterminate",
    "done": "done", "hecho": "done", "listo": "done", "finalizado": "done", "fertig": "done", "erledigt": "done", "terminé": "done", "готово": "done", "выполнено": "done", "完成": "done", "已完成": "done",
}
# Jira category key -> flowsite status category, used when config `statuses:` does not name the status.
FLOW_CATEGORY = {"new": "new", "indeterminate": "active", "done": "done"}
CANCELED_RESOLUTIONS = {"won't do", "won't fix", "duplicate", "cannot reproduce", "declined", "rejected", "obsolete", "no se hará", "duplicado", "wird nicht erledigt", "duplikat", "ne sera pas fait", "doublon", "не будет выполнено", "дубликат", "不做", "重复"}


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().casefold()


def english_header(header: str, overrides: dict[str, str]) -> str:
    """The English name of a (possibly localised) Jira CSV header."""
    h = fold(header)
    for english, wanted in overrides.items():
        if fold(wanted) == h:
            return english
    for english, names in HEADERS.items():
        if h == fold(english) or any(h == fold(n) for n in names):
            return english
    for prefix in CUSTOM_FIELD_PREFIXES:
        if header.startswith(prefix):
            return "Custom field (" + header[len(prefix):]
    return header


def parse_date(text: str | None) -> str | None:
    """`15/Feb/26 4:37 PM`, `10/nov/25 4:51 p. m.`, `29/июл/26 09:59` -> naive ISO text.

    Text that does not look like a Jira date is returned unchanged, so an ISO value passes and a bad
    one reaches normalize, which reports its row.
    """
    if text is None:
        return None
    value = text.strip()
    if not value:
        return None
    m = DATE_RE.match(value)
    if not m:
        return value
    word = fold(m["m"]).rstrip(".")
    month = MONTHS.get(word) or MONTHS.get(word[:4]) or MONTHS.get(word[:3])
    if not month:
        return value
    year = int(m["y"])
    year += 2000 if year < 100 else 0
    hour, minute, second = int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            return value
        hour = hour % 12 + (12 if m["ampm"].lower() == "p" else 0)
    try:
        return dt.datetime(year, month, int(m["d"]), hour, minute, second).isoformat()
    except ValueError:
        return value
