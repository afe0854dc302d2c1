"""Date formats for the back-office (English): to the second, with the zone's name, so a
time in Lusaka (`CAT`) is never mistaken for UTC."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
