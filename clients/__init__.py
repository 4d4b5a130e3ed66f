"""The client programs: upsc, upscmd, upsrw, upslog and the CGI programs."""
