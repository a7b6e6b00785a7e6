pkg nginx; proc nginx; active nginx; enabled nginx; listening 80; http 80
