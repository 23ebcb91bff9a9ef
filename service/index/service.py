"""The happiness index of a location over a range: its counts grouped into the location's
calendar periods, each with its index, ci95 and bias-adjusted index with its interval, plus the
overall summary and the trend; and the same for every location of the city. Day, week and month
periods are whole local days and read the daily rollup; 15-minute and hour periods read the
stored UTC buckets.

Honest numbers (README, "What the numbers mean"): ci95 is widened by the extra variation
measured over clusters of stored rows (days; hours or buckets when too few days have faces)
in a window of at least DISPERSION_WINDOW before the range's end; the trend is tested on local
days (weeks beyond TREND_WEEKS_AFTER_DAYS days); a range or period with fewer faces than the
publishing minimum is flagged low_count and its values are withheld from public answers.

The answers are built in service.index.location (one location) and service.index.city (the
overview) from service.index.summaries; this module is their entry point."""

from service.index.city import city_overview
from service.index.location import location_index
from service.index.summaries import Query, make_query

__all__ = ["Query", "city_overview", "location_index", "make_query"]
